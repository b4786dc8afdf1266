import { FedtuneError } from '@fedtune/shared';

/**
 * Successive halving on rounds (Jamieson & Talwalkar 2016; Hyperband's inner loop): every trial runs the
 * first rung's rounds, the best 1/η of them by the objective go on to η times as many rounds, and so on
 * until the last rung runs `maxRounds`.
 */

/** More rungs than successive halving can have for any integer rounds (η ≥ 2). */
const MAX_RUNGS = 64;

/** The rounds of each rung: minRounds, minRounds·η, minRounds·η², …, the last one capped at maxRounds. */
export function rungRounds(minRounds: number, maxRounds: number, eta: number): number[] {
  if (!(Number.isInteger(minRounds) && minRounds >= 1 && Number.isInteger(maxRounds) && maxRounds >= minRounds)) {
    throw new FedtuneError('config', `successive halving needs 1 ≤ min-rounds ≤ max-rounds (got ${minRounds} and ${maxRounds})`);
  }
  if (!(Number.isInteger(eta) && eta >= 2)) throw new FedtuneError('config', `eta must be an integer ≥ 2 (got ${eta})`);
  const rungs = [minRounds];
  // With η ≥ 2 there are at most 1 + ⌈log₂ maxRounds⌉ ≤ 54 rungs: the bound never binds; it turns a loop that
  // could not end (a broken step) into a wrong answer instead of an out-of-memory crash.
  // Stryker disable next-line ConditionalExpression,EqualityOperator,UpdateOperator: equivalent: the bound never binds for valid input.
  for (let k = 0; k < MAX_RUNGS; k++) {
    const last = rungs[rungs.length - 1];
    if (last >= maxRounds) break;
    rungs.push(Math.min(maxRounds, last * eta));
  }
  return rungs;
}

/** How many of `n` trials a rung promotes: ⌊n/η⌋, at least one. */
export function promotedCount(n: number, eta: number): number {
  return n === 0 ? 0 : Math.max(1, Math.floor(n / eta));
}

/**
 * The trials a rung promotes: the best ⌊n/η⌋ (at least one) by score, higher first; equal scores go to the
 * lower trial number, so promotions are deterministic. A trial without a score (failed) is never promoted.
 * Returns trial numbers in rank order.
 */
export function promote(results: ReadonlyArray<{ trial: number; score: number | null }>, eta: number): number[] {
  // Number.isFinite is false for null (a failed trial) as for NaN and ±Infinity.
  const scored = results.filter((r): r is { trial: number; score: number } => Number.isFinite(r.score));
  const ranked = [...scored].sort((a, b) => b.score - a.score || a.trial - b.trial);
  return ranked.slice(0, promotedCount(results.length, eta)).map((r) => r.trial);
}
