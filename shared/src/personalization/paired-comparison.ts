import type { PairedCounts } from '../messages/site-report-schemas.ts';

/** Examples only `a` classifies right (wins) and only `b` does (losses): per-example correctness on the same examples. */
export function pairedCounts(a: ArrayLike<number>, b: ArrayLike<number>): PairedCounts {
  if (a.length !== b.length) throw new RangeError(`paired scores of different lengths (${a.length} and ${b.length})`);
  let wins = 0;
  let losses = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) wins++;
    else if (b[i] && !a[i]) losses++;
  }
  return { wins, losses };
}

/**
 * The paired accuracy difference a − b over `n` examples from the counts, and its standard error — the
 * numbers pairedDifference gives from the per-example scores (each difference is +1, −1 or 0): mean
 * (wins − losses) / n, sample variance (wins + losses − n·mean²) / (n − 1). Infinity with fewer than 2 examples.
 */
export function pairedComparisonStats(counts: PairedCounts, n: number): { difference: number; standardError: number } {
  if (n <= 0) return { difference: 0, standardError: Infinity };
  const difference = (counts.wins - counts.losses) / n;
  if (n < 2) return { difference, standardError: Infinity };
  const variance = Math.max(0, counts.wins + counts.losses - n * difference * difference) / (n - 1);
  return { difference, standardError: Math.sqrt(variance / n) };
}

/** Standard errors a difference must pass to count as more than the test split's noise (about 95 %, two-sided). */
export const NOISE_STANDARD_ERRORS = 2;

/** Whether a is worse than b by more than `z` paired standard errors (a loss that is not the split's noise). */
export function worseBeyondNoise(counts: PairedCounts, n: number, z = NOISE_STANDARD_ERRORS): boolean {
  const { difference, standardError } = pairedComparisonStats(counts, n);
  return difference < -z * standardError;
}

/** Whether a is better than b by more than `z` paired standard errors. */
export function betterBeyondNoise(counts: PairedCounts, n: number, z = NOISE_STANDARD_ERRORS): boolean {
  const { difference, standardError } = pairedComparisonStats(counts, n);
  return difference > z * standardError;
}
