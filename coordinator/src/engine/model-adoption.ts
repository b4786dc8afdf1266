import type { WeightArrays } from '@fedtune/shared';
import type { GlobalMetrics } from './global-model.ts';
import { firstNonFinite } from './validate-fit-result.ts';

/**
 * Model adoption guard (docs/robustness.md#poisoning-safe-defaults): the last line of defence after the
 * per-update checks. A new global model is adopted only if every weight is finite, its holdout metrics are
 * finite, and its holdout accuracy is not more than `maxAccuracyDrop` (absolute) below the current model's
 * unless its holdout loss is lower.
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
  if (current && Number.isFinite(current.accuracy) && maxAccuracyDrop < 1 && candidate.accuracy < current.accuracy - maxAccuracyDrop && !(candidate.loss < current.loss)) {
    return {
      ok: false,
      reason: `the aggregate's holdout accuracy ${candidate.accuracy.toFixed(4)} collapsed from ${current.accuracy.toFixed(4)} (more than the allowed drop of ${maxAccuracyDrop}) and its holdout loss did not improve (${candidate.loss.toFixed(4)}, was ${current.loss.toFixed(4)})`,
    };
  }
  return { ok: true };
}
