/** The mean of a paired per-example difference and its standard error. */
export interface PairedDifference {
  /** Mean of a_i − b_i. */
  mean: number;
  /** Standard error of that mean: the sample standard deviation of a_i − b_i over √n (Infinity with fewer than 2 pairs: no evidence). */
  standardError: number;
}

/**
 * The paired difference of two per-example scores on the same examples (1 = correct, 0 = wrong): its mean
 * and the standard error of the mean, as a paired t-test uses. Both arrays must have the same length.
 */
export function pairedDifference(a: ArrayLike<number>, b: ArrayLike<number>): PairedDifference {
  const n = a.length;
  if (n !== b.length) throw new RangeError(`paired scores of different lengths (${n} and ${b.length})`);
  if (n === 0) return { mean: 0, standardError: Infinity };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i] - b[i];
  const mean = sum / n;
  if (n < 2) return { mean, standardError: Infinity };
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (a[i] - b[i] - mean) ** 2;
  return { mean, standardError: Math.sqrt(squares / (n - 1) / n) };
}
