import { FedtuneError } from '../../errors.ts';

// Lanczos approximation (g = 7, 9 terms): relative accuracy about 1e-15.
const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new FedtuneError('config', `log-gamma of ${x}: x must be > 0`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b). */
function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** The continued fraction of I_x(a, b) (modified Lentz), valid for x < (a + 1)/(a + b + 2). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const maxIterations = 100_000;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  // Stryker disable next-line all: equivalent: a guard against division by zero that valid shapes (a, b > 0, x inside the convergent region) never reach
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  // Stryker disable next-line EqualityOperator: equivalent: the fraction converges in far fewer than 100,000 terms
  for (let m = 1; m <= maxIterations; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    // Stryker disable next-line all: equivalent: Lentz's zero guard, never reached for valid shapes
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    // Stryker disable next-line all: equivalent: Lentz's zero guard, never reached for valid shapes
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    // Stryker disable next-line all: equivalent: Lentz's zero guard, never reached for valid shapes
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    // Stryker disable next-line all: equivalent: Lentz's zero guard, never reached for valid shapes
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    // Stryker disable next-line EqualityOperator: equivalent: |δ − 1| is never exactly 1e-16
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  // Stryker disable next-line StringLiteral: unreachable: the fraction converges in far fewer than 100,000 terms for every valid shape (measured up to a, b = 10^15).
  throw new FedtuneError('internal', `the incomplete beta continued fraction did not converge (a=${a}, b=${b}, x=${x})`);
}

function checkShapes(a: number, b: number): void {
  if (!(a > 0) || !(b > 0) || !Number.isFinite(a) || !Number.isFinite(b)) throw new FedtuneError('config', `beta shapes must be finite and > 0, got a=${a}, b=${b}`);
}

/** The regularized incomplete beta function I_x(a, b) = P(X ≤ x) for X ~ Beta(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  checkShapes(a, b);
  if (!(x >= 0 && x <= 1)) throw new FedtuneError('config', `incomplete beta at x=${x}: x must be in [0, 1]`);
  // Stryker disable next-line ConditionalExpression: equivalent: at x = 0 the front factor is exp(−∞) = 0, so the expansion returns 0 too.
  if (x === 0) return 0;
  // Stryker disable next-line ConditionalExpression: equivalent: at x = 1 the front factor is exp(−∞) = 0, so the expansion from the other side returns 1 − 0.
  if (x === 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b));
  // Which side to expand on only decides how fast the fraction converges (both are exact): equivalent mutants.
  // Stryker disable next-line all: equivalent: both branches are the same function, I_x(a, b) = 1 − I_{1−x}(b, a)
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * The p-quantile of Beta(a, b): the x with I_x(a, b) = p (scipy's beta.ppf). Bisection on [0, 1] until no
 * double lies strictly between the bracket's ends (I_x is increasing in x), so exact to the last bit the
 * incomplete beta itself resolves.
 */
export function inverseRegularizedIncompleteBeta(p: number, a: number, b: number): number {
  checkShapes(a, b);
  if (!(p >= 0 && p <= 1)) throw new FedtuneError('config', `beta quantile of p=${p}: p must be in [0, 1]`);
  // Stryker disable next-line ConditionalExpression: equivalent: at p = 0 the bisection (or the closed forms) ends at 0 as well, only later.
  if (p === 0) return 0;
  if (p === 1) return 1;
  // Closed forms: Beta(a, 1) has CDF x^a, Beta(1, b) has CDF 1 − (1 − x)^b.
  if (b === 1) return p ** (1 / a);
  if (a === 1) return -Math.expm1(Math.log1p(-p) / b);
  let lo = 0;
  let hi = 1;
  for (;;) {
    const mid = (lo + hi) / 2;
    if (mid <= lo || mid >= hi) return mid;
    // Stryker disable next-line EqualityOperator: equivalent: I_mid(a, b) exactly equal to p moves the bracket to the same double either way.
    if (regularizedIncompleteBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
}
