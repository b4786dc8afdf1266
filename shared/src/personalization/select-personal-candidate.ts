import { FedtuneError } from '../errors.ts';
import type { AutoCandidate } from '../messages/site-report-schemas.ts';

/** A candidate's score on the site's validation split (never the test split). */
export interface CandidateScore {
  candidate: AutoCandidate;
  /** Clean validation accuracy. */
  accuracy: number;
  /** Clean validation loss (mean cross-entropy). */
  loss: number;
  /** Accuracy under the robustness guard's attack on the validation split (absent: the guard is off). */
  robustAccuracy?: number;
}

/** Tie order after accuracy: the global model first (no needless drift), then the local-only model; the rest by lower loss. */
const TIE_PRIORITY: Partial<Record<AutoCandidate, number>> = { global: 0, 'local-only': 1 };
const priorityOf = (c: AutoCandidate) => TIE_PRIORITY[c] ?? 2;

/**
 * Whether candidate `a` ranks above `b`: higher validation accuracy; on equal accuracy the global model,
 * then the local-only model; then lower loss. Full ties keep `b` (the one tried first).
 */
export function ranksAbove(a: CandidateScore, b: CandidateScore): boolean {
  if (a.accuracy !== b.accuracy) return a.accuracy > b.accuracy;
  const pa = priorityOf(a.candidate);
  const pb = priorityOf(b.candidate);
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
 * The personalisation's selection rule (mode 'auto'), a pure function of the validation scores:
 * among the candidates that pass the robustness guard (the global model always does), the one ranked
 * highest by `ranksAbove`. `scores` must hold the global model.
 */
export function selectPersonalCandidate(scores: readonly CandidateScore[]): CandidateScore {
  const global = scores.find((s) => s.candidate === 'global');
  if (!global) throw new FedtuneError('internal', 'personalisation candidates must include the global model');
  let best = global;
  for (const s of scores) if (s !== global && passesRobustnessGuard(s, global) && ranksAbove(s, best)) best = s;
  return best;
}
