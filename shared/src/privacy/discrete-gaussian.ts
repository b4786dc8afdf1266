/**
 * Exact sampling from the discrete Gaussian N_Z(0, σ²): P(x) ∝ exp(−x²/(2σ²)) for every integer x.
 * Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020
 * (arXiv:2004.00010), Algorithms 1–3, in exact integer arithmetic: σ² is a rational p/q (a double is one
 * exactly: mantissa · 2^exponent), every Bernoulli is "a uniform integer below d is below n", and the only
 * randomness is uniform bytes from a CSPRNG (ChaCha20 or the OS). No floating point touches a sample.
 */
import { FedtuneError } from '../errors.ts';
import type { RandomBytes } from './chacha-random.ts';

/** An exact non-negative rational n/d (d > 0). */
export interface Rational {
  n: bigint;
  d: bigint;
}

/** The exact value of a finite double ≥ 0 as a rational (every double is a dyadic rational). */
export function rationalOfDouble(x: number): Rational {
  if (!(Number.isFinite(x) && x >= 0)) throw new FedtuneError('config', `expected a finite number ≥ 0, got ${x}`);
  let d = 1n;
  let v = x;
  // Doubling is exact for doubles until v is an integer (at most 1074 doublings for subnormals).
  while (!Number.isInteger(v)) {
    v *= 2;
    d *= 2n;
  }
  return { n: BigInt(v), d };
}

/** A uniform integer in [0, bound) from `randomBytes` (rejection sampling on the bit length: unbiased). */
export function uniformBelow(bound: bigint, randomBytes: RandomBytes): bigint {
  if (bound <= 0n) throw new FedtuneError('config', `uniform bound must be > 0, got ${bound}`);
  if (bound === 1n) return 0n;
  const bits = (bound - 1n).toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const excess = BigInt(bytes * 8 - bits);
  for (;;) {
    const b = randomBytes(bytes);
    let v = 0n;
    for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(b[i]);
    v >>= excess;
    if (v < bound) return v;
  }
}

/** Bernoulli(n/d) for 0 ≤ n/d ≤ 1. */
export function bernoulli(p: Rational, randomBytes: RandomBytes): boolean {
  return uniformBelow(p.d, randomBytes) < p.n;
}

/** Bernoulli(exp(−γ)) for a rational γ = n/d ≥ 0 (CKS 2020, Algorithm 1). */
export function bernoulliExpMinus(gamma: Rational, randomBytes: RandomBytes): boolean {
  const { n, d } = gamma;
  if (n <= d) {
    // K = 1, 2, …: stop at the first K whose Bernoulli(γ/K) fails; return whether that K is odd.
    let k = 1n;
    while (bernoulli({ n, d: d * k }, randomBytes)) k++;
    return k % 2n === 1n;
  }
  const whole = n / d;
  for (let i = 0n; i < whole; i++) if (!bernoulliExpMinus({ n: 1n, d: 1n }, randomBytes)) return false;
  return bernoulliExpMinus({ n: n - whole * d, d }, randomBytes);
}

/** The discrete Laplace with scale t (an integer ≥ 1): P(x) ∝ exp(−|x|/t) (CKS 2020, Algorithm 2 with s = 1). */
export function sampleDiscreteLaplace(t: bigint, randomBytes: RandomBytes): bigint {
  const { magnitude, negative } = discreteLaplaceParts(t, randomBytes);
  return negative ? -magnitude : magnitude;
}

/** A discrete Laplace sample as its magnitude |x| and sign (never −0): what the Gaussian's acceptance test needs. */
function discreteLaplaceParts(t: bigint, randomBytes: RandomBytes): { magnitude: bigint; negative: boolean } {
  for (;;) {
    const u = uniformBelow(t, randomBytes);
    if (!bernoulliExpMinus({ n: u, d: t }, randomBytes)) continue;
    let v = 0n;
    while (bernoulliExpMinus({ n: 1n, d: 1n }, randomBytes)) v++;
    const magnitude = u + t * v;
    const negative = bernoulli({ n: 1n, d: 2n }, randomBytes);
    if (negative && magnitude === 0n) continue;
    return { magnitude, negative };
  }
}

/** One sample of N_Z(0, σ²) with σ² = `variance` (exact rational) (CKS 2020, Algorithm 3). σ² = 0 gives 0. */
export function sampleDiscreteGaussian(variance: Rational, randomBytes: RandomBytes): bigint {
  const { n: p, d: q } = variance;
  if (p === 0n) return 0n;
  // t = ⌊σ⌋ + 1, and ⌊sqrt(p/q)⌋ = ⌊sqrt(⌊p/q⌋)⌋.
  const t = isqrt(p / q) + 1n;
  for (;;) {
    const { magnitude, negative } = discreteLaplaceParts(t, randomBytes);
    // Accept with probability exp(−(|y| − σ²/t)² / (2σ²)) = exp(−(|y|·t·q − p)² / (2·t²·q·p)).
    const num = magnitude * t * q - p;
    if (bernoulliExpMinus({ n: num * num, d: 2n * t * t * q * p }, randomBytes)) return negative ? -magnitude : magnitude;
  }
}

/** ⌊sqrt(n)⌋ for n ≥ 0: the double square root (off either way above 2^53), stepped up while (x + 1)² ≤ n, then down while x² > n. */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new FedtuneError('config', 'isqrt of a negative number');
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // Stryker disable next-line ArithmeticOperator: equivalent: (x − 1)² ≤ n only steps up too far, and the down step below corrects that.
  while ((x + 1n) ** 2n <= n) x++;
  while (x * x > n) x--;
  return x;
}

/**
 * Uniform doubles in [0, 1) with 53 random bits each, drawn from `randomBytes` 4 KiB at a time (the stream's
 * bytes in order, read as little-endian 32-bit words whatever the host's byte order or the buffer's alignment:
 * the same randomBytes source gives the same uniforms everywhere).
 */
export function uniformsFrom(randomBytes: RandomBytes): () => number {
  let view: DataView = new DataView(new ArrayBuffer(0));
  let pos = 0;
  return () => {
    if (pos + 8 > view.byteLength) {
      const raw = randomBytes(4096);
      view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      pos = 0;
    }
    const hi = view.getUint32(pos, true) >>> 5; // 27 bits
    const lo = view.getUint32(pos + 4, true) >>> 6; // 26 bits
    pos += 8;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/**
 * One sample of N_Z(0, σ²), the same algorithm as sampleDiscreteGaussian (CKS 2020, Algorithm 3: a discrete
 * Laplace proposal with t = ⌊σ⌋ + 1, accepted with probability exp(−(|y| − σ²/t)²/(2σ²))) in double precision
 * instead of exact rationals — the discrete Laplace as a two-sided geometric ⌊−t·ln U⌋, the Bernoulli tests as
 * U < p — as TensorFlow Federated's distributed-DP sampler does. About 10³× faster than the exact sampler (a
 * 100k-parameter update's noise in milliseconds instead of seconds); its probabilities are exact to double
 * precision (≈1e-16 relative), far below the accountant's own slack. Needs σ² < 2^100 (counts stay exact doubles up to 2^53).
 */
export function sampleDiscreteGaussianFloat(variance: number, uniform: () => number): number {
  if (!(variance >= 0 && variance < 2 ** 100)) throw new FedtuneError('config', `a discrete Gaussian variance must be in [0, 2^100), got ${variance}`);
  if (variance === 0) return 0;
  const t = Math.floor(Math.sqrt(variance)) + 1;
  const shift = variance / t;
  for (;;) {
    // Discrete Laplace with scale t: a geometric magnitude P(g) ∝ exp(−g/t) and a sign, −0 rejected.
    let u = uniform();
    while (u === 0) u = uniform();
    const g = Math.floor(-t * Math.log(u));
    const negative = uniform() < 0.5;
    if (negative && g === 0) continue;
    const d = g - shift;
    if (uniform() < Math.exp(-(d * d) / (2 * variance))) return negative ? -g : g;
  }
}

/**
 * Adds independent N_Z(0, σ²) noise to the first `count` values of a uint32 vector, modulo 2^32 (the
 * secure-aggregation ring), with sampleDiscreteGaussianFloat on uniforms from `randomBytes`. Returns how many
 * values the noise wrapped past ±2^31 (0 with a fitting scale).
 */
export function addDiscreteGaussianNoise(data: Uint32Array, count: number, variance: number, randomBytes: RandomBytes): number {
  if (!(Number.isInteger(count) && count >= 0 && count <= data.length)) throw new FedtuneError('config', `noise count must be in [0, ${data.length}], got ${count}`);
  if (!(variance >= 0 && variance < 2 ** 100)) throw new FedtuneError('config', `a discrete Gaussian variance must be in [0, 2^100), got ${variance}`);
  // σ² = 0 draws nothing: the sampler returns 0 before it asks for a uniform (and uniformsFrom reads lazily).
  const uniform = uniformsFrom(randomBytes);
  let wrapped = 0;
  for (let i = 0; i < count; i++) {
    const signed = (data[i]! | 0) + sampleDiscreteGaussianFloat(variance, uniform);
    if (signed >= 2 ** 31 || signed < -(2 ** 31)) wrapped++;
    // A Uint32Array stores ToUint32(signed): signed mod 2^32, exact for an integer |signed| < 2^53.
    data[i] = signed;
  }
  return wrapped;
}
