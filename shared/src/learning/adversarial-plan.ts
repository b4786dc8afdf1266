import type { Dataset } from '../data/dataset.ts';
import { ADVERSARIAL_DEFAULTS, type TrainConfig } from '../messages/schemas.ts';
import type { Attack } from '../robustness/attacks/attack.ts';
import { fgmL2 } from '../robustness/attacks/fgm-l2.ts';
import { fgsm } from '../robustness/attacks/fgsm.ts';
import { pgdL2 } from '../robustness/attacks/pgd-l2.ts';
import { pgd } from '../robustness/attacks/pgd.ts';
import { epsScale } from '../robustness/eps-scale.ts';

/** `TrainConfig.adversarial` resolved for one fit on one site's data: defaults filled, ε in the attack's units. */
export interface AdversarialPlan {
  method: 'fgsm' | 'pgd' | 'trades';
  /** 'embedding': the perturbation is on the embedding output (embedding-perturbation.ts), not on the input (absent: input). */
  space?: 'embedding';
  share: number;
  /** The attack that makes the adversarial inputs (TRADES: PGD on the KL, of the config's norm). */
  attack: Attack;
  /** ε and step size as the attack takes them: absolute, or per-feature units when `scale` is set. */
  eps: number;
  steps: number;
  stepSize: number;
  /** feature-std units: each feature's standard deviation on the site's training data. */
  scale?: Float32Array;
  /** TRADES β. */
  beta: number;
  /** Absolute input units per unit of the config's ε (1 for absolute units). */
  unitScale: number;
  /** AWP's γ: the weights' relative perturbation per step (0: none; adversarial-weight-perturbation.ts). */
  awp: number;
  /** The loss the FGSM / PGD attack climbs ('mixed': the first half of the adversarial examples by cross-entropy, the rest by the margin). */
  attackLoss: 'ce' | 'margin' | 'mixed';
}

/**
 * Resolves `config.adversarial` against the site's training data, or undefined when it trains nothing
 * adversarially (absent, share 0 or ε 0). 'data-std' ε becomes absolute (ε × the pixel standard deviation);
 * 'feature-std' keeps ε and passes each feature's standard deviation as the attack's scale. A config without
 * the new fields (norm, units, TRADES) resolves exactly as before: PGD-7 of 2.5·ε/7 or one FGSM step of ε.
 */
export function adversarialPlan(config: TrainConfig, train: Dataset): AdversarialPlan | undefined {
  const adv = config.adversarial;
  if (!adv || adv.share <= 0 || adv.eps <= 0) return undefined;
  const iterative = adv.method !== 'fgsm';
  const steps = iterative ? (adv.steps ?? ADVERSARIAL_DEFAULTS.steps) : 1;
  const stepSize = iterative ? (adv.stepSize ?? (2.5 * adv.eps) / steps) : adv.eps;
  const l2 = (adv.norm ?? ADVERSARIAL_DEFAULTS.norm) === 'l2';
  const attack = iterative ? (l2 ? pgdL2 : pgd) : l2 ? fgmL2 : fgsm;
  const scale = epsScale(train, adv.epsUnits ?? ADVERSARIAL_DEFAULTS.epsUnits);
  const absolute = scale.units === 'data-std' ? scale.value : 1;
  return {
    method: adv.method,
    ...(adv.space === 'embedding' ? { space: 'embedding' as const } : {}),
    share: adv.share,
    attack,
    eps: adv.eps * absolute,
    steps,
    stepSize: stepSize * absolute,
    ...(scale.perFeature ? { scale: scale.perFeature } : {}),
    beta: adv.beta ?? ADVERSARIAL_DEFAULTS.beta,
    unitScale: scale.value,
    awp: adv.awp ?? ADVERSARIAL_DEFAULTS.awp,
    attackLoss: adv.attackLoss ?? ADVERSARIAL_DEFAULTS.attackLoss,
  };
}
