import { FedtuneError } from '../errors.ts';
import type { AutoCandidate } from '../messages/site-report-schemas.ts';
import { pairedDifference } from './paired-difference.ts';

/** A candidate's score on the site's validation split (never the test split). */
export interface CandidateScore {
  candidate: AutoCandidate;
  /** Clean validation accuracy. */
  accuracy: number;
  /** Clean validation loss (mean cross-entropy). */
  loss: number;
  /** Accuracy under the robustness guard's attack on the validation split (absent: the guard is off). */
  robustAccuracy?: number;
  /** 1/0 per validation example (correct or not), in one order for every candidate: the paired noise estimate. Stays at the site (never sent). */
  correct?: Uint8Array;
}

/** Tie order after accuracy: the global model first (no needless drift), then the local-only model; the rest by lower loss. */
const TIE_PRIORITY: Partial<Record<AutoCandidate, number>> = { global: 0, 'local-only': 1 };
const priorityOf = (c: AutoCandidate) => TIE_PRIORITY[c] ?? 2;

/**
 * Whether candidate `a` ranks above `b`: higher validation accuracy; on equal accuracy the global model,
 * then the local-only model; then lower loss. Full ties keep `b` (the one tried first).
 */
export function ranksAbove(a: CandidateScore, b: CandidateScore): boolean {
  // Stryker disable next-line EqualityOperator: equivalent: the accuracies differ here, so > and ≥ agree.
  if (a.accuracy !== b.accuracy) return a.accuracy > b.accuracy;
  const pa = priorityOf(a.candidate);
  const pb = priorityOf(b.candidate);
  // Stryker disable next-line EqualityOperator: equivalent: the priorities differ here, so < and ≤ agree.
  if (pa !== pb) return pa < pb;
  return a.loss < b.loss;
}

/**
 * Whether a candidate passes the robustness guard: no robustness loss against the global model on
 * validation (its guard accuracy ≥ the global model's). Without a guard measure every candidate passes.
 */
export function passesRobustnessGuard(candidate: CandidateScore, global: CandidateScore): boolean {
  if (candidate.robustAccuracy === undefined || global.robustAccuracy === undefined) return true;
  return candidate.robustAccuracy >= global.robustAccuracy;
}

/**
 * Whether `best` beats `other` on validation by more than the estimate's noise: its mean paired accuracy
 * gain (per-example `correct`, same examples) exceeds `margin` standard errors of that gain (with margin 0:
 * any gain). Without per-example scores on both, plain accuracy: any gain.
 */
export function winsBeyondNoise(best: CandidateScore, other: CandidateScore, margin: number): boolean {
  if (margin > 0 && best.correct && other.correct && best.correct.length === other.correct.length) {
    const d = pairedDifference(best.correct, other.correct);
    return d.mean > margin * d.standardError;
  }
  return best.accuracy > other.accuracy;
}

/**
 * The personalisation's selection rule (mode 'auto'), a pure function of the validation scores:
 * among the candidates that pass the robustness guard (the global model always does), `best` is the one
 * ranked highest by `ranksAbove`; the rule then keeps the first candidate, in the order of preference
 * global, local-only, then the rest as ranked, that `best` does not beat beyond noise (`winsBeyondNoise`
 * with `margin` paired standard errors: a one-standard-error rule with margin 1). Margin 0 keeps `best`.
 * `scores` must hold the global model.
 */
export function selectPersonalCandidate(scores: readonly CandidateScore[], margin = 0): CandidateScore {
  const global = scores.find((s) => s.candidate === 'global');
  if (!global) throw new FedtuneError('internal', 'personalisation candidates must include the global model');
  // Stryker disable next-line ConditionalExpression: equivalent: the global model is `best` from the start and first in `preferred`, eligible or not.
  const eligible = scores.filter((s) => s === global || passesRobustnessGuard(s, global));
  let best = global;
  for (const s of eligible) if (ranksAbove(s, best)) best = s;
  const ranked = [...eligible].sort((a, b) => (ranksAbove(a, b) ? -1 : ranksAbove(b, a) ? 1 : 0));
  const localOnly = ranked.filter((s) => s.candidate === 'local-only');
  // Stryker disable next-line MethodExpression,ConditionalExpression,LogicalOperator,StringLiteral: equivalent: this filter only drops the global and local-only models, which come earlier in `preferred` (find returns the first).
  const rest = ranked.filter((s) => s !== global && s.candidate !== 'local-only');
  const preferred = [global, ...localOnly, ...rest];
  // `best` itself is never beaten beyond noise, so the search always ends.
  return preferred.find((s) => !winsBeyondNoise(best, s, margin))!;
}
