import type { TrainConfig } from '../messages/schemas.ts';

type WithAdversarial = Pick<TrainConfig, 'adversarial'>;

/**
 * The ε warm-up: with `adversarial.warmupRounds` = k, round r ≤ k trains at ε·r/k (from ε/k in round 1 to ε
 * in round k; an explicit step size scales with it), rounds after k at ε. Returns `train` itself when there is
 * nothing to ramp. Pure: the coordinator applies it to each round's training settings before sending them,
 * and a site that overrides the adversarial settings applies it to its own.
 */
export function warmedUpTrain<T extends WithAdversarial>(train: T, round: number): T {
  const adv = train.adversarial;
  const k = adv?.warmupRounds;
  if (!adv || !k || round >= k) return train;
  const factor = Math.max(1, round) / k;
  return { ...train, adversarial: { ...adv, eps: adv.eps * factor, ...(adv.stepSize !== undefined ? { stepSize: adv.stepSize * factor } : {}) } };
}
