import type { TrainConfig } from '../messages/schemas.ts';

type WithAdversarial = Pick<TrainConfig, 'adversarial'>;

/**
 * The ε warm-up: with `adversarial.warmupRounds` = k, round r ≤ k trains at ε·r/k (from ε/k in round 1 to ε
 * in round k; an explicit step size scales with it), rounds after k at ε. Returns `train` itself when there is
 * nothing to ramp. Pure: the coordinator applies it to each round's training settings before sending them,
 * and a site that overrides the adversarial settings applies it to its own.
 */
/**
 * The first round of the training regime that round `round` is in: every round from it to `round` trains at the
 * same ε. A warm-up raises ε every round up to k, so each warm-up round is a regime of its own, and from round k
 * on ε holds: k. Without a warm-up (or without adversarial training) the whole run is one regime: 1. The drift
 * guard compares a round's model only with the models of its regime (round-loop.ts): adversarial training at a
 * larger ε costs clean accuracy by design, and the best model of a smaller ε is no reference for it.
 */
/** Whether the sites train adversarially at all (a method, ε > 0 and a share of the batch > 0). */
export function adversarialTrainingOn(train: WithAdversarial): boolean {
  const adv = train.adversarial;
  return adv !== undefined && adv.eps > 0 && adv.share > 0;
}

export function adversarialRegimeStart(train: WithAdversarial, round: number): number {
  const k = train.adversarial?.warmupRounds;
  if (!k) return 1;
  return Math.min(round, k);
}

export function warmedUpTrain<T extends WithAdversarial>(train: T, round: number): T {
  const adv = train.adversarial;
  const k = adv?.warmupRounds;
  if (!adv || !k || round >= k) return train;
  const factor = Math.max(1, round) / k;
  return { ...train, adversarial: { ...adv, eps: adv.eps * factor, ...(adv.stepSize !== undefined ? { stepSize: adv.stepSize * factor } : {}) } };
}
