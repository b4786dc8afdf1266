import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { evaluateModel } from '../learning/evaluate-model.ts';
import { fitLocal, setTrainableLayers } from '../learning/fit-local.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { type AutoCandidate, type PersonalizationSettings } from '../messages/site-report-schemas.ts';
import { readModelWeights, writeModelWeights } from '../model/model-weights.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import type { WeightArrays } from '../weights.ts';
import { selectPersonalCandidate, type CandidateScore } from './select-personal-candidate.ts';
import { validationRobustAccuracy } from './validation-robustness.ts';

/** The interpolation weights α of `α·w_finetuned + (1 − α)·w_global` the 'auto' mode tries (WiSE-FT, Wortsman et al. 2022). */
export const AUTO_INTERPOLATIONS: Record<Extract<AutoCandidate, `mix-${string}`>, number> = { 'mix-0.25': 0.25, 'mix-0.5': 0.5, 'mix-0.75': 0.75 };

/** `α·a + (1 − α)·b`, weight by weight. */
export function interpolateWeights(a: WeightArrays, b: WeightArrays, alpha: number): WeightArrays {
  return a.map((w, i) => {
    const out = new Float32Array(w.length);
    const v = b[i];
    for (let j = 0; j < w.length; j++) out[j] = alpha * w[j] + (1 - alpha) * v[j];
    return out;
  });
}

/** Whether `a` is strictly better than `b` on validation (accuracy, then loss); ties keep `b`. */
export function betterOnValidation(a: Pick<CandidateScore, 'accuracy' | 'loss'>, b: Pick<CandidateScore, 'accuracy' | 'loss'>): boolean {
  return a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.loss < b.loss);
}

export interface AutoPersonalizationOutcome {
  /** The candidate kept ('global': none beat the global model on validation). */
  chosen: AutoCandidate;
  /** Every candidate's validation accuracy and loss, in the order tried. */
  scores: CandidateScore[];
}

/**
 * Personalisation by model selection at the site, on its own **validation** split (never the test split):
 * starting from the global model (the weights `model` holds), it tries the global model itself, the head
 * fine-tuned for `settings.epochs`, every layer fine-tuned for `settings.epochs`, interpolations
 * α·w_full + (1 − α)·w_global (α ∈ AUTO_INTERPOLATIONS), Ditto's proximal fine-tune (λ = settings.lambda)
 * and, when given, the site's local-only model (`extra.localOnly`); each fine-tune keeps its best epoch on
 * validation loss. With a robustness guard (settings.guard, ε = settings.guardEps) every candidate's
 * accuracy under that attack on validation is measured too. The model ends holding the candidate
 * `selectPersonalCandidate` picks (best validation accuracy among those no less robust than the global
 * model; ties: global, then local-only, then lower loss), so the personal model is at least the global
 * one — and the local-only one, when it passes the guard — on validation by construction.
 * Needs a non-empty validation split. Leaks no tensors.
 */
export async function autoPersonalize(
  model: tf.LayersModel,
  data: { train: Dataset; validation: Dataset },
  config: TrainConfig,
  settings: PersonalizationSettings,
  extra: { localOnly?: WeightArrays } = {},
): Promise<AutoPersonalizationOutcome> {
  if (data.validation.y.length === 0) throw new FedtuneError('data', 'personalization mode "auto" needs a validation split at the site');
  const global = readModelWeights(model).arrays;
  const fits = { ...config, epochs: settings.epochs, earlyStopping: { patience: settings.epochs } };
  const guard = settings.guard ?? 'off';
  const guardSeed = deriveSeed(config.seed, 'personalization-guard');
  const scores: CandidateScore[] = [];
  const weights = new Map<AutoCandidate, WeightArrays>();
  const score = async (candidate: AutoCandidate, arrays: WeightArrays) => {
    writeModelWeights(model, arrays);
    const m = evaluateModel(model, data.validation);
    const robustAccuracy = await validationRobustAccuracy(model, data.validation, guard, settings.guardEps ?? 0, guardSeed);
    scores.push({ candidate, accuracy: m.accuracy, loss: m.loss, ...(robustAccuracy !== undefined ? { robustAccuracy } : {}) });
    weights.set(candidate, arrays);
  };
  await score('global', global);
  await fitLocal(model, data.train, { ...fits, trainable: 'head' }, undefined, { validation: data.validation });
  await score('head', readModelWeights(model).arrays);
  writeModelWeights(model, global);
  await fitLocal(model, data.train, { ...fits, trainable: 'all', seed: config.seed + 1 }, undefined, { validation: data.validation });
  const full = readModelWeights(model).arrays;
  await score('full', full);
  for (const [candidate, alpha] of Object.entries(AUTO_INTERPOLATIONS) as Array<[AutoCandidate, number]>) await score(candidate, interpolateWeights(full, global, alpha));
  writeModelWeights(model, global);
  await fitLocal(model, data.train, { ...fits, trainable: 'all', proximalMu: settings.lambda, seed: config.seed + 2 }, undefined, { validation: data.validation });
  await score('ditto', readModelWeights(model).arrays);
  if (extra.localOnly) await score('local-only', extra.localOnly);
  const best = selectPersonalCandidate(scores);
  writeModelWeights(model, weights.get(best.candidate)!);
  setTrainableLayers(model, 'all');
  return { chosen: best.candidate, scores };
}
