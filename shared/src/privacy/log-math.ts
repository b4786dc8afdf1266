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
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const d = a - b;
  // expm1 overflows past ~709; then log(e^a − e^b) = a to double precision.
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
  for (let n = 2; n < 5000; n++) {
    const a = (n - 1) / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -Math.log(f);
}

/** erf(x) for 0 ≤ x < 2 by the all-positive series. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) return 1 - erfSeries(x);
  return Math.exp(logScaledErfcTail(x) - x * x - LOG_SQRT_PI);
}

/** log erfc(x), finite for every finite x (log 2 as x → −∞, ≈ −x² − log(x√π) as x → +∞). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2) return Math.log(erfc(x));
  return logScaledErfcTail(x) - x * x - LOG_SQRT_PI;
}
