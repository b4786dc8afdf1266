import { describe, expect, it } from 'vitest';
import {
  addDiscreteGaussianNoise,
  bernoulli,
  bernoulliExpMinus,
  ChaChaRandom,
  FedtuneError,
  isqrt,
  rationalOfDouble,
  sampleDiscreteGaussian,
  sampleDiscreteGaussianFloat,
  sampleDiscreteLaplace,
  uniformBelow,
  uniformsFrom,
  type RandomBytes,
} from '@fedtune/shared';
import { mulberry32 } from '../helpers/mulberry32.ts';

/**
 * Exact values of the discrete Gaussian samplers (shared/src/privacy/discrete-gaussian.ts): scripted random
 * tapes whose outcome follows by hand from CKS 2020's Algorithms 1–3, the float sampler value for value against
 * a reference written here from the paper, and the uint32 ring's wrap count at its exact edges.
 */

/** A random tape: each call must ask for the next chunk's length, and gets it; the test checks the tape was used up. */
function tape(chunks: number[][]): RandomBytes & { left: () => number } {
  const rest = chunks.map((c) => Uint8Array.from(c));
  const f = ((length: number) => {
    const next = rest.shift();
    if (!next) throw new Error('tape used up');
    expect(length).toBe(next.length);
    return next;
  }) as RandomBytes & { left: () => number };
  f.left = () => rest.length;
  return f;
}

const noRandomness: RandomBytes = () => {
  throw new Error('no randomness needed');
};

/** Uniforms in a fixed order, then an error: the float sampler's whole input. */
function uniforms(values: number[]): (() => number) & { left: () => number } {
  const rest = [...values];
  const f = (() => {
    if (rest.length === 0) throw new Error('uniforms used up');
    return rest.shift()!;
  }) as (() => number) & { left: () => number };
  f.left = () => rest.length;
  return f;
}

/**
 * The 4096 bytes uniformsFrom turns into `values` (each a multiple of 2^-53 in [0, 1)): word 2i holds the top 27
 * bits shifted left by 5, word 2i+1 the low 26 bits shifted left by 6, little-endian.
 */
function bytesOfUniforms(values: number[]): Uint8Array {
  const out = new Uint8Array(4096);
  const view = new DataView(out.buffer);
  values.forEach((u, i) => {
    const k = u * 2 ** 53;
    if (!Number.isInteger(k)) throw new Error(`${u} is not a multiple of 2^-53`);
    view.setUint32(8 * i, Math.floor(k / 2 ** 26) * 32, true);
    view.setUint32(8 * i + 4, (k % 2 ** 26) * 64, true);
  });
  return out;
}

describe('exact integer arithmetic at its edges', () => {
  it('rationalOfDouble: subnormals, the largest double, and refusals of −0-free negatives and ∞', () => {
    expect(rationalOfDouble(2 ** -1074)).toEqual({ n: 1n, d: 2n ** 1074n });
    expect(rationalOfDouble(0.75)).toEqual({ n: 3n, d: 4n });
    expect(rationalOfDouble(Number.MAX_VALUE)).toEqual({ n: BigInt(Number.MAX_VALUE), d: 1n });
    expect(() => rationalOfDouble(-Number.MIN_VALUE)).toThrow(FedtuneError);
    expect(() => rationalOfDouble(-Infinity)).toThrow(/finite number ≥ 0, got -Infinity/);
  });

  it('isqrt of perfect squares beyond 2^53, where the double square root is off by one either way', () => {
    for (const r of [2n ** 64n + 1n, 2n ** 64n - 1n, 10n ** 20n + 7n, 3n ** 40n, 94906267n, 94906265n]) {
      expect(isqrt(r * r)).toBe(r);
      expect(isqrt(r * r - 1n)).toBe(r - 1n);
      expect(isqrt(r * r + 2n * r)).toBe(r);
    }
  });

  it('uniformBelow accepts bound − 1 and rejects exactly the bound (the first value a ≤ test would let through)', () => {
    // bound 6: 3 bits, the top 3 of one byte. 6 (0b110) is rejected, 7 rejected, then 5 accepted.
    const t = tape([[0b11000000], [0b11111111], [0b10111111]]);
    expect(uniformBelow(6n, t)).toBe(5n);
    expect(t.left()).toBe(0);
    // bound 2^8: exactly 8 bits in 1 byte, nothing shifted off, every byte accepted.
    expect(uniformBelow(256n, tape([[255]]))).toBe(255n);
    // bound 2^8 + 1: 9 bits in 2 bytes, 7 low bits shifted off; 0x8000 >> 7 = 256 accepted, 0x807f too.
    expect(uniformBelow(257n, tape([[0x80, 0x7f]]))).toBe(256n);
    expect(uniformBelow(257n, tape([[0x80, 0x80], [0x00, 0x80]]))).toBe(1n);
    // bound 2: one bit, the byte's top bit.
    expect(uniformBelow(2n, tape([[0x7f]]))).toBe(0n);
    expect(uniformBelow(2n, tape([[0x80]]))).toBe(1n);
    expect(() => uniformBelow(-1n, noRandomness)).toThrow(/uniform bound must be > 0, got -1/);
  });

  it('bernoulli(n/d) is "a uniform below d is below n"', () => {
    // d = 3: 2 bits; 1 is not below 1, 0 is.
    expect(bernoulli({ n: 1n, d: 3n }, tape([[0b01000000]]))).toBe(false);
    expect(bernoulli({ n: 1n, d: 3n }, tape([[0b00111111]]))).toBe(true);
    expect(bernoulli({ n: 2n, d: 3n }, tape([[0b01000000]]))).toBe(true);
    expect(bernoulli({ n: 2n, d: 3n }, tape([[0b10000000]]))).toBe(false);
  });
});

describe('bernoulliExpMinus on scripted tapes (CKS 2020, Algorithm 1)', () => {
  it('γ ≤ 1: the parity of the first K whose Bernoulli(γ/K) fails', () => {
    // γ = 1/2. K = 1: Bernoulli(1/2) = uniform below 2 (top bit) is 0.
    expect(bernoulliExpMinus({ n: 1n, d: 2n }, tape([[0x80]]))).toBe(true); // fails at K = 1: odd
    // K = 1 hits; K = 2: Bernoulli(1/4), uniform below 4 (top 2 bits) is 1: fails at K = 2: even.
    expect(bernoulliExpMinus({ n: 1n, d: 2n }, tape([[0x00], [0x40]]))).toBe(false);
    // K = 1, 2 hit; K = 3: Bernoulli(1/6), uniform below 6 (top 3 bits) is 5: fails at K = 3: odd.
    expect(bernoulliExpMinus({ n: 1n, d: 2n }, tape([[0x00], [0x00], [0xa0]]))).toBe(true);
    // γ = 3/3 (n = d, still this branch): K = 1 Bernoulli(3/3), a uniform below 3 (1) is below 3; K = 2
    // Bernoulli(3/6), a uniform below 6 (4) is not below 3: fails at K = 2: even.
    expect(bernoulliExpMinus({ n: 3n, d: 3n }, tape([[0b01000000], [0x80]]))).toBe(false);
    // γ = 0: Bernoulli(0) fails at once, K = 1: always true.
    expect(bernoulliExpMinus({ n: 0n, d: 5n }, tape([[0x00]]))).toBe(true);
  });

  it('γ > 1: ⌊γ⌋ Bernoulli(exp(−1)) that must all hit, then Bernoulli(exp(−(γ − ⌊γ⌋)))', () => {
    // exp(−1): K = 1 is Bernoulli(1) (no randomness), K = 2 Bernoulli(1/2), K = 3 Bernoulli(1/3).
    const hitExpMinusOne = [[0x00], [0b01000000]]; // K = 2 hits, K = 3 (uniform below 3 = 1) fails: odd, a hit
    const missExpMinusOne = [[0x80]]; // K = 2 fails: even, a miss
    // γ = 7/3: two exp(−1) hits, then exp(−1/3): K = 1 Bernoulli(1/3) fails: a hit.
    expect(bernoulliExpMinus({ n: 7n, d: 3n }, tape([...hitExpMinusOne, ...hitExpMinusOne, [0b01000000]]))).toBe(true);
    // The same with exp(−1/3) missing: K = 1 hits (0 < 1), K = 2 Bernoulli(1/6) fails (5): even.
    expect(bernoulliExpMinus({ n: 7n, d: 3n }, tape([...hitExpMinusOne, ...hitExpMinusOne, [0x00], [0xa0]]))).toBe(false);
    // The second exp(−1) misses: false at once, the rest of γ never drawn.
    const t = tape([...hitExpMinusOne, ...missExpMinusOne]);
    expect(bernoulliExpMinus({ n: 7n, d: 3n }, t)).toBe(false);
    expect(t.left()).toBe(0);
    // γ = 2 exactly: two exp(−1) hits, then exp(−0): true with one draw of Bernoulli(0).
    expect(bernoulliExpMinus({ n: 4n, d: 2n }, tape([...hitExpMinusOne, ...hitExpMinusOne, [0x00]]))).toBe(true);
  });
});

describe('the discrete Laplace and the exact discrete Gaussian on scripted tapes (Algorithms 2 and 3)', () => {
  // Tapes of the pieces, for scale t = 2 (uniform below 2: the top bit of one byte).
  const hitExpMinusOne = [[0x00], [0b01000000]];
  const missExpMinusOne = [[0x80]];

  it('the discrete Laplace: U below t, accepted with exp(−U/t), V geometric, x = U + t·V with a sign, −0 refused', () => {
    // U = 1; exp(−1/2) hits (K = 1 fails); V = 2 (two exp(−1) hits, one miss); sign: Bernoulli(1/2) top bit 0 → negative.
    const t = tape([[0x80], [0x80], ...hitExpMinusOne, ...hitExpMinusOne, ...missExpMinusOne, [0x00]]);
    expect(sampleDiscreteLaplace(2n, t)).toBe(-5n);
    expect(t.left()).toBe(0);
    // U = 1, exp(−1/2) misses (K = 1 hits, K = 2 fails): start again. U = 0, exp(0) hits; V = 0; positive: 0.
    expect(sampleDiscreteLaplace(2n, tape([[0x80], [0x00], [0x40], [0x00], [0x00], ...missExpMinusOne, [0x80]]))).toBe(0n);
    // U = 0, V = 0 and negative: −0 is refused, start again; U = 1, V = 0, positive: 1.
    expect(sampleDiscreteLaplace(2n, tape([[0x00], [0x00], ...missExpMinusOne, [0x00], [0x80], [0x80], ...missExpMinusOne, [0x80]]))).toBe(1n);
    // t = 1: U is always 0 and exp(−0) always hits, with no randomness; so x = V.
    expect(sampleDiscreteLaplace(1n, tape([...hitExpMinusOne, ...missExpMinusOne, [0x80]]))).toBe(1n);
  });

  it('the exact discrete Gaussian: t = ⌊σ⌋ + 1, a Laplace proposal accepted with exp(−(|y| − σ²/t)²/(2σ²))', () => {
    // σ² = 2: t = 2. Proposal y = 1 (U = 1, accepted; V = 0; positive). γ = (1·2·1 − 2)² / (2·4·1·2) = 0: accepted
    // with one draw of Bernoulli(0).
    const y1 = [[0x80], [0x80], ...missExpMinusOne, [0x80]];
    expect(sampleDiscreteGaussian({ n: 2n, d: 1n }, tape([...y1, [0x00]]))).toBe(1n);
    // σ² = 2 as 4/2: the same numbers.
    expect(sampleDiscreteGaussian({ n: 4n, d: 2n }, tape([...y1, [0x00]]))).toBe(1n);
    // Proposal y = −3 (U = 1, V = 1, negative): γ = (3·2 − 2)²/16 = 16/16: K = 1 Bernoulli(16/16) (uniform below 16:
    // 0), K = 2 Bernoulli(16/32) (below 32: 0) hit, K = 3 Bernoulli(16/48) (below 48: 16) fails: odd, accepted: −3.
    const yMinus3 = [[0x80], [0x80], ...hitExpMinusOne, ...missExpMinusOne, [0x00]];
    expect(sampleDiscreteGaussian({ n: 2n, d: 1n }, tape([...yMinus3, [0x00], [0x00], [16 << 2]]))).toBe(-3n);
    // The same proposal with K = 2 failing (below 32: 16): even, rejected; the next proposal (y = 1) is accepted.
    const t = tape([...yMinus3, [0x00], [16 << 3], ...y1, [0x00]]);
    expect(sampleDiscreteGaussian({ n: 2n, d: 1n }, t)).toBe(1n);
    expect(t.left()).toBe(0);
    // σ² = 1/4 (σ < 1): t = 1, U = 0 and accepted with no randomness; y = 1 (V = 1, positive). γ = (1·1·4 − 1)²/(2·1·4·1) = 9/8: one exp(−1)
    // hit, then exp(−1/8): K = 1 Bernoulli(1/8) (3 bits) is 1, fails: hit.
    const quarter = tape([...hitExpMinusOne, ...missExpMinusOne, [0x80], ...hitExpMinusOne, [0b00100000]]);
    expect(sampleDiscreteGaussian({ n: 1n, d: 4n }, quarter)).toBe(1n);
    expect(quarter.left()).toBe(0);
  });

  it('σ² = 0 needs no randomness, whatever its denominator', () => {
    expect(sampleDiscreteGaussian({ n: 0n, d: 7n }, noRandomness)).toBe(0n);
  });
});

/** The float sampler written again from CKS 2020, Algorithm 3 (with TFF's geometric ⌊−t·ln U⌋ for the Laplace). */
function referenceFloatSample(variance: number, uniform: () => number): number {
  const t = Math.floor(Math.sqrt(variance)) + 1;
  for (;;) {
    let u = uniform();
    while (u === 0) u = uniform();
    const magnitude = Math.floor(-t * Math.log(u));
    const negative = uniform() < 0.5;
    if (negative && magnitude === 0) continue;
    const off = magnitude - variance / t;
    if (uniform() < Math.exp(-(off * off) / (2 * variance))) return negative ? -magnitude : magnitude;
  }
}

describe('the float discrete Gaussian on scripted uniforms', () => {
  // σ² = 2: t = ⌊√2⌋ + 1 = 2, σ²/t = 1, magnitude ⌊−2·ln u⌋; u = 0.5 gives 1 (−2·ln 0.5 = 1.386), 0.9 gives 0.

  it('a sign uniform of exactly ½ is positive, below ½ negative; a zero uniform is drawn again', () => {
    const u = uniforms([0.5, 0.5, 0.999]);
    expect(sampleDiscreteGaussianFloat(2, u)).toBe(1); // |y| − σ²/t = 0: accepted with probability 1
    expect(u.left()).toBe(0);
    expect(sampleDiscreteGaussianFloat(2, uniforms([0, 0, 0.5, 0.25, 0.999]))).toBe(-1);
  });

  it('−0 is refused (a new proposal), +0 is accepted with exp(−(0 − 1)²/4)', () => {
    const u = uniforms([0.9, 0.1, 0.5, 0.9, 0.5]);
    expect(sampleDiscreteGaussianFloat(2, u)).toBe(1);
    expect(u.left()).toBe(0);
    const below = Math.exp(-0.25) - 2 ** -53;
    expect(sampleDiscreteGaussianFloat(2, uniforms([0.9, 0.9, below]))).toBe(0);
    expect(Object.is(sampleDiscreteGaussianFloat(2, uniforms([0.9, 0.9, below])), 0)).toBe(true);
    // An acceptance uniform equal to the probability is a rejection (U < p, not ≤); the next proposal is 1.
    expect(sampleDiscreteGaussianFloat(2, uniforms([0.9, 0.9, Math.exp(-0.25), 0.5, 0.9, 0.5]))).toBe(1);
  });

  it('magnitude 3 is accepted with exp(−(3 − 1)²/4) = e^−1, exactly at its edge', () => {
    const three = Math.exp(-1.75); // −2·ln u = 3.5
    expect(sampleDiscreteGaussianFloat(2, uniforms([three, 0.9, Math.exp(-1) - 2 ** -54]))).toBe(3);
    expect(sampleDiscreteGaussianFloat(2, uniforms([three, 0.1, Math.exp(-1) - 2 ** -54]))).toBe(-3);
    expect(sampleDiscreteGaussianFloat(2, uniforms([three, 0.9, Math.exp(-1), 0.5, 0.9, 0.5]))).toBe(1);
  });

  it('σ² = 4: t = 3 (⌊σ⌋ + 1, not σ), σ²/t = 4/3; σ² = 0.7: t = 1', () => {
    // u = e^−1: magnitude ⌊3⌋ = 3 (t = 2 or 4 would give 2 or 4). Accepted with exp(−(3 − 4/3)²/8) ≈ 0.707.
    const p = Math.exp(-((3 - 4 / 3) * (3 - 4 / 3)) / 8);
    expect(sampleDiscreteGaussianFloat(4, uniforms([Math.exp(-1.1), 0.9, p - 2 ** -53]))).toBe(3);
    expect(sampleDiscreteGaussianFloat(4, uniforms([Math.exp(-1.1), 0.9, p, 0.5, 0.9, 0.001]))).toBe(2);
    // σ² = 0.7: magnitude ⌊−ln u⌋; u = e^−2.5 gives 2, accepted with exp(−(2 − 0.7)²/1.4).
    const q = Math.exp(-((2 - 0.7) * (2 - 0.7)) / 1.4);
    expect(sampleDiscreteGaussianFloat(0.7, uniforms([Math.exp(-2.5), 0.7, q - 2 ** -54]))).toBe(2);
    expect(sampleDiscreteGaussianFloat(0.7, uniforms([Math.exp(-2.5), 0.7, q, 0.5, 0.7, 0.001]))).toBe(0);
  });

  it('agrees with the algorithm written from the paper, draw for draw, over σ² from 0.3 to 1e12', () => {
    for (const [seed, variance] of [[1, 0.3], [2, 2], [3, 30.25], [4, 1e4 + 0.5], [5, 1e12]] as const) {
      const a = mulberry32(seed);
      const b = mulberry32(seed);
      const got = Array.from({ length: 400 }, () => sampleDiscreteGaussianFloat(variance, a));
      const want = Array.from({ length: 400 }, () => referenceFloatSample(variance, b));
      expect(got).toEqual(want);
      expect(a()).toBe(b()); // the same number of uniforms used
    }
  });

  it('σ² must be in [0, 2^100): the largest double below 2^100 is a variance, 2^100 is not', () => {
    const largest = 2 ** 100 - 2 ** 47;
    expect(Number.isInteger(sampleDiscreteGaussianFloat(largest, uniforms([0.5, 0.9, 0.5])))).toBe(true);
    expect(() => sampleDiscreteGaussianFloat(2 ** 100, noRandomness as never)).toThrow(/\[0, 2\^100\), got 1\.2676506002282294e\+30/);
    expect(() => sampleDiscreteGaussianFloat(-Number.MIN_VALUE, noRandomness as never)).toThrow(FedtuneError);
    expect(addDiscreteGaussianNoise(new Uint32Array(1), 0, largest, noRandomness)).toBe(0);
    expect(() => addDiscreteGaussianNoise(new Uint32Array(1), 0, 2 ** 100, noRandomness)).toThrow(/variance must be in \[0, 2\^100\)/);
    expect(() => addDiscreteGaussianNoise(new Uint32Array(1), 0, Number.NaN, noRandomness)).toThrow(/variance/);
    // Refused before any value is noised: also with nothing to noise.
    expect(() => addDiscreteGaussianNoise(new Uint32Array(1), 0, -1, noRandomness)).toThrow(/variance must be in \[0, 2\^100\), got -1/);
  });
});

describe('addDiscreteGaussianNoise: the uint32 ring at its edges', () => {
  // σ² = 2 noise of +1 (magnitude 1, positive, accepted) and −1 (negative), as uniformsFrom reads them.
  const plusOne = [0.5, 0.5, 0.5];
  const minusOne = [0.5, 0.25, 0.5];

  it('wraps past ±2^31 counted exactly: 2^31 − 1 + 1 and −2^31 − 1 wrap, −2^31 + 1 − 1 and 2^31 − 2 + 1 do not', () => {
    const values = [2 ** 31 - 1, -(2 ** 31) + 1, -(2 ** 31), 2 ** 31 - 2, 0, 9];
    const data = Uint32Array.from(values, (v) => v >>> 0);
    const noise = tape([Array.from(bytesOfUniforms([...plusOne, ...minusOne, ...minusOne, ...plusOne, ...minusOne]))]);
    expect(addDiscreteGaussianNoise(data, 5, 2, noise)).toBe(2);
    expect(Array.from(data)).toEqual([2 ** 31, 2 ** 31, 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 32 - 1, 9]);
  });

  it('σ² = 0 leaves the values as they are and needs no randomness; the count may be the whole vector, not more', () => {
    const data = Uint32Array.of(7, 2 ** 32 - 1);
    expect(addDiscreteGaussianNoise(data, 2, 0, noRandomness)).toBe(0);
    expect(Array.from(data)).toEqual([7, 2 ** 32 - 1]);
    expect(() => addDiscreteGaussianNoise(data, 3, 0, noRandomness)).toThrow(/noise count must be in \[0, 2\], got 3/);
    expect(() => addDiscreteGaussianNoise(data, 1.5, 0, noRandomness)).toThrow(FedtuneError);
  });

  it('uniformsFrom: the bytes of bytesOfUniforms read back as those uniforms, 512 of them per 4 KiB', () => {
    const values = [0, 2 ** -53, 0.5, 1 - 2 ** -53, 0.25 + 2 ** -40];
    const all = Array.from({ length: 512 }, (_, i) => values[i % values.length]!);
    let calls = 0;
    const u = uniformsFrom((n) => (calls++, expect(n).toBe(4096), bytesOfUniforms(all)));
    expect(Array.from({ length: 512 }, () => u())).toEqual(all);
    expect(calls).toBe(1);
    expect(u()).toBe(0);
    expect(calls).toBe(2);
  });
});

describe('the exact sampler for fixed seeds', () => {
  const seeded = (k: number) => new ChaChaRandom(new Uint8Array(32).fill(k)).randomBytes;
  it('N_Z(0, σ²) from ChaCha20 with a fixed key is a fixed sequence (the same bytes, the same noise)', () => {
    const draw = (variance: number, key: number) => {
      const r = seeded(key);
      const v = rationalOfDouble(variance);
      return Array.from({ length: 24 }, () => Number(sampleDiscreteGaussian(v, r)));
    };
    expect(draw(2, 21)).toEqual(GOLDEN_2);
    expect(draw(0.7, 22)).toEqual(GOLDEN_07);
    expect(draw(30.25, 23)).toEqual(GOLDEN_3025);
  });
});

// The first 24 draws of the exact sampler with ChaCha20 keys 21, 22 and 23 (all bytes the key number), taken from this
// implementation once its pmf passed the χ² tests of discrete-gaussian.test.ts: a change that moves any draw is a
// change of the noise a seeded simulation adds.
const GOLDEN_2 = [2, 0, 0, -1, -1, 1, 0, 0, -2, 0, 0, -1, 2, -1, 3, 3, 0, 0, 1, -1, 3, -1, -1, 2];
const GOLDEN_07 = [-1, -1, 1, 1, -1, 0, 0, 0, 0, 0, -1, 1, 0, -1, 0, -1, 0, -1, -1, 1, -1, -1, 1, 1];
const GOLDEN_3025 = [-6, -3, 0, 0, -9, 3, -1, 3, 8, 3, 3, 3, -5, 1, -2, -3, 6, -5, 3, -4, 4, 3, 2, -1];

describe('refusals name their code and what was wrong', () => {
  const refused = (f: () => unknown, message: string) => {
    expect(f).toThrow(expect.objectContaining({ code: 'config', message }));
  };
  it('the samplers and their arithmetic', () => {
    refused(() => rationalOfDouble(-1), 'expected a finite number ≥ 0, got -1');
    refused(() => uniformBelow(0n, noRandomness), 'uniform bound must be > 0, got 0');
    refused(() => isqrt(-4n), 'isqrt of a negative number');
    refused(() => sampleDiscreteGaussianFloat(-1, uniforms([])), 'a discrete Gaussian variance must be in [0, 2^100), got -1');
    refused(() => addDiscreteGaussianNoise(new Uint32Array(1), -1, 1, noRandomness), 'noise count must be in [0, 1], got -1');
    refused(() => addDiscreteGaussianNoise(new Uint32Array(1), 1, Infinity, noRandomness), 'a discrete Gaussian variance must be in [0, 2^100), got Infinity');
  });
});
