import type { WeightArrays } from '@fedtune/shared';
import type { GlobalMetrics } from './global-model.ts';
import { firstNonFinite } from './validate-fit-result.ts';

/**
 * Model adoption guard (docs/robustness.md#poisoning-safe-defaults): the last line of defence after the
 * per-update checks. A new global model is adopted only if every weight is finite, its holdout metrics are
 * finite, and its holdout accuracy is not more than `maxAccuracyDrop` (absolute) below the current model's
 * unless its holdout loss is lower, nor more than `maxAccuracyDropFromBest` below the best model of the run's rounds
 * unless its holdout loss is lower than that model's (a slow drift: small steps that each pass the first check).
 * Otherwise the round engine retries the round (a new attempt) and, when attempts run out, keeps the
 * current model for the round; either way the reason lands in the round record's `adoption`.
 */
export type AdoptionVerdict = { ok: true } | { ok: false; reason: string };

/** Checks the aggregate's weights before it is evaluated (a non-finite model is never evaluated or sent). */
export function checkCandidateWeights(weights: WeightArrays): AdoptionVerdict {
  const bad = firstNonFinite(weights);
  return bad ? { ok: false, reason: `the aggregate has a non-finite weight (tensor ${bad.tensor}, index ${bad.index})` } : { ok: true };
}

/**
 * Checks the aggregate's holdout metrics against the current model's. An accuracy drop of more than
 * `maxAccuracyDrop` refuses it unless its holdout loss is lower than the current model's: by the proper
 * scoring rule it is then the better model, and the drop comes from the current model's overconfidence
 * (e.g. a randomly initialised model that puts every example in the majority class with huge logits, whose
 * first aggregate is calibrated but predicts the classes more evenly). A poisoned aggregate that loses
 * accuracy raises the holdout loss with it — every example it turns wrong costs at least ln 2 — so it stays
 * refused.
 */
export function checkCandidateMetrics(candidate: GlobalMetrics, current: { accuracy: number; loss: number } | undefined, maxAccuracyDrop: number): AdoptionVerdict {
  if (!Number.isFinite(candidate.accuracy) || !Number.isFinite(candidate.loss)) {
    return { ok: false, reason: `the aggregate's holdout metrics are not finite (accuracy ${candidate.accuracy}, loss ${candidate.loss})` };
  }
  // 1 needs no branch of its own: no accuracy in [0, 1] is more than 1 below another.
  if (current && Number.isFinite(current.accuracy) && candidate.accuracy < current.accuracy - maxAccuracyDrop && !(candidate.loss < current.loss)) {
    return {
      ok: false,
      reason: `the aggregate's holdout accuracy ${candidate.accuracy.toFixed(4)} collapsed from ${current.accuracy.toFixed(4)} (more than the allowed drop of ${maxAccuracyDrop}) and its holdout loss did not improve (${candidate.loss.toFixed(4)}, was ${current.loss.toFixed(4)})`,
    };
  }
  return { ok: true };
}

/** The best model of the run's rounds so far by holdout accuracy (ties: the earlier round), with its loss. */
export interface BestRound {
  round: number;
  accuracy: number;
  loss: number;
  /** The first round it was chosen from, when not the run's first (adversarialRegimeStart). */
  since?: number;
}

/**
 * The best of the run's round models by holdout accuracy (finite metrics only). The pretrained model is left
 * out on purpose: the first rounds of fine-tuning on shifted site data often dip below it before they climb
 * (the built-in task's first round: 70% → 56% → 74% → 82%), and a guard anchored there would never let the
 * run start.
 */
export function bestRound(rounds: ReadonlyArray<{ round: number; global: { accuracy: number; loss: number } }>, since = 1): BestRound | undefined {
  let best: BestRound | undefined;
  for (const r of rounds) {
    if (r.round < since) continue;
    const { accuracy, loss } = r.global;
    if (!Number.isFinite(accuracy) || !Number.isFinite(loss)) continue;
    if (!best || accuracy > best.accuracy) best = { round: r.round, accuracy, loss, ...(since > 1 ? { since } : {}) };
  }
  return best;
}

/**
 * The drift check: a candidate whose holdout accuracy is more than `maxDropFromBest` below the best round
 * model's is refused unless its holdout loss is lower than that model's. The per-round check
 * (checkCandidateMetrics) compares with the current model only, so a site that pulls a little every round —
 * each step within the norm bound and the allowed drop — walked the model from 76% to 46% over 300 rounds; this
 * check stops it within `maxDropFromBest` of the best model. 1 turns it off.
 */
export function checkCandidateAgainstBest(candidate: GlobalMetrics, best: BestRound | undefined, maxDropFromBest: number): AdoptionVerdict {
  // 1 needs no branch of its own: no accuracy in [0, 1] is more than 1 below another.
  if (!best) return { ok: true };
  if (candidate.accuracy < best.accuracy - maxDropFromBest && !(candidate.loss < best.loss)) {
    return {
      ok: false,
      reason: `the aggregate's holdout accuracy ${candidate.accuracy.toFixed(4)} is more than ${maxDropFromBest} below ${best.since === undefined ? "the run's best" : `the best since round ${best.since} (when the training's ε last changed)`}, ${best.accuracy.toFixed(4)} (round ${best.round}), and its holdout loss is not lower than that model's (${candidate.loss.toFixed(4)}, was ${best.loss.toFixed(4)}): a drift away from the best model`,
    };
  }
  return { ok: true };
}

/** How many standard deviations of a regime's round accuracies the drift check allows under adversarial training. */
export const ADVERSARIAL_DRIFT_SIGMAS = 4;

/**
 * The drift check's allowed drop under adversarial training: at least `base`, widened to ADVERSARIAL_DRIFT_SIGMAS
 * standard deviations of the clean holdout accuracies of the regime's rounds (those from `since` on, at least 3 of
 * them), at most `cap` (the per-round collapse bound, maxAccuracyDrop). Adversarial training on non-IID sites moves
 * clean accuracy several points from round to round (the robust preset's cnn-dense over 30 rounds: 72.8–78.9 %
 * after its warm-up, σ ≈ 2.2 points), and the best of such rounds sits about 2σ above a typical one: against a
 * fixed 0.05 most rounds after the warm-up were refused and kept the previous model, so training at the full ε
 * hardly happened (finding: new-user review 2026-12-07). A steady pull is still caught: a drop that grows round
 * by round to D spreads the regime's accuracies by about D/√12, so 4σ ≈ 1.15·D — the pull is held within about
 * its own size plus the noise, and never past `cap`.
 */
export function adversarialDriftTolerance(rounds: ReadonlyArray<{ round: number; global: { accuracy: number } }>, since: number, base: number, cap: number): number {
  const accuracies = rounds.filter((r) => r.round >= since && Number.isFinite(r.global.accuracy)).map((r) => r.global.accuracy);
  if (accuracies.length < 3) return base;
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const sd = Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / (accuracies.length - 1));
  // Four decimals: the tolerance is said in the refusal's reason.
  return Math.max(base, Math.min(cap, Math.round(ADVERSARIAL_DRIFT_SIGMAS * sd * 1e4) / 1e4));
}
