import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import type { PersonalizationGuard } from '../messages/site-report-schemas.ts';
import { inputGeometry, valueRange } from '../robustness/apply-corruption.ts';
import { fgsm } from '../robustness/attacks/fgsm.ts';
import { pgd } from '../robustness/attacks/pgd.ts';
import { ATTACK_LOSSES } from '../robustness/attacks/attack-loss.ts';
import { adversarialAccuracyByLoss } from '../robustness/evaluate-robustness.ts';

/** PGD steps of the personalisation's robustness guard: a small budget (it runs once per candidate). */
export const GUARD_PGD_STEPS = 5;

/**
 * The robustness guard's measure of `model` on the site's validation split: accuracy under FGSM or
 * PGD-5 (step 2.5·ε/5, a seeded random start) at `eps` (absolute input units, inputs clipped to the data's
 * range: [0, 1] for images), per example the worst case over the cross-entropy and margin losses: a candidate
 * fine-tuned to be more confident saturates the cross-entropy and would look more robust to an attack on it
 * alone (docs/robustness.md#two-losses). `undefined` for guard 'off' or ε = 0 (nothing to guard). Leaks no tensors.
 */
export async function validationRobustAccuracy(model: tf.LayersModel, validation: Dataset, guard: PersonalizationGuard, eps: number, seed: number): Promise<number | undefined> {
  if (guard === 'off' || eps <= 0 || validation.y.length === 0) return undefined;
  const [clipMin, clipMax] = inputGeometry(validation).kind === 'image' ? [0, 1] : valueRange(validation.x);
  const steps = guard === 'pgd' ? GUARD_PGD_STEPS : 1;
  const stages = await adversarialAccuracyByLoss(model, validation, guard === 'pgd' ? pgd : fgsm, { eps, steps, stepSize: guard === 'pgd' ? (2.5 * eps) / steps : eps, seed, clipMin, clipMax, batchSize: 128 }, ATTACK_LOSSES);
  return stages[stages.length - 1];
}
