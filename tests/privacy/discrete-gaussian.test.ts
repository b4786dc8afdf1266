import { describe, expect, it } from 'vitest';
import { addDiscreteGaussianNoise, bernoulli, bernoulliExpMinus, ChaChaRandom, FedtuneError, isqrt, rationalOfDouble, sampleDiscreteGaussian, sampleDiscreteGaussianFloat, sampleDiscreteLaplace, uniformBelow, uniformsFrom } from '@fedtune/shared';

const seeded = (k: number) => new ChaChaRandom(new Uint8Array(32).fill(k)).randomBytes;

/** Both samplers of N_Z(0, σ²): the exact one (rationals) and the double-precision one addDiscreteGaussianNoise uses. */
const SAMPLERS = {
  exact: (variance: number, r: ReturnType<typeof seeded>) => { const v = rationalOfDouble(variance); return () => Number(sampleDiscreteGaussian(v, r)); },
  float: (variance: number, r: ReturnType<typeof seeded>) => { const u = uniformsFrom(r); return () => sampleDiscreteGaussianFloat(variance, u); },
} as const;


/** Pearson χ² of observed counts against expected probabilities (bins with tails merged by the caller). */
function chiSquare(counts: number[], probs: number[], n: number): number {
  return counts.reduce((s, c, i) => s + (c - n * probs[i]) ** 2 / (n * probs[i]), 0);
}

describe('exact integer arithmetic', () => {
  it.each([
    [0, 0n, 1n],
    [3, 3n, 1n],
    [0.5, 1n, 2n],
    [0.1, 3602879701896397n, 36028797018963968n],
    [1e20, 100000000000000000000n, 1n],
  ])('rationalOfDouble(%d) is exactly %d/%d', (x, n, d) => {
    expect(rationalOfDouble(x)).toEqual({ n, d });
  });

  it.each([-1, Number.NaN, Infinity])('rationalOfDouble(%d) is a config error', (x) => {
    expect(() => rationalOfDouble(x)).toThrow(FedtuneError);
  });

  it.each([
    [0n, 0n], [1n, 1n], [2n, 1n], [3n, 1n], [4n, 2n], [15n, 3n], [16n, 4n], [17n, 4n],
    [10n ** 30n - 1n, 10n ** 15n - 1n], [10n ** 30n, 10n ** 15n], [(2n ** 64n + 1n) ** 2n - 1n, 2n ** 64n],
  ])('isqrt(%d) = %d', (n, r) => {
    expect(isqrt(n)).toBe(r);
  });

  it('isqrt refuses a negative number', () => {
    expect(() => isqrt(-1n)).toThrow(FedtuneError);
  });

  it('uniformBelow rejects values at or above the bound (bits, not modulo: unbiased) and needs no randomness for bound 1', () => {
    const script = [[0b11100000], [0b10100000]]; // 3 bits: 7 (≥ 6, rejected), then 5
    const bytes = (length: number) => {
      expect(length).toBe(1);
      return Uint8Array.from(script.shift()!);
    };
    expect(uniformBelow(6n, bytes)).toBe(5n);
    expect(script).toHaveLength(0);
    expect(uniformBelow(1n, () => { throw new Error('no randomness needed'); })).toBe(0n);
    expect(() => uniformBelow(0n, seeded(1))).toThrow(FedtuneError);
    // Multi-byte bound: 2^16 + 1 needs 17 bits, 3 bytes.
    let asked = 0;
    const v = uniformBelow(2n ** 16n + 1n, (l) => ((asked = l), new Uint8Array(l)));
    expect([asked, v]).toEqual([3, 0n]);
  });

  it('uniformBelow(6) is uniform (χ², 5 dof, seeded)', () => {
    const r = seeded(2);
    const counts = new Array(6).fill(0);
    const n = 12_000;
    for (let i = 0; i < n; i++) counts[Number(uniformBelow(6n, r))]++;
    expect(chiSquare(counts, new Array(6).fill(1 / 6), n)).toBeLessThan(20.5); // p = 0.001
  });
});

describe('Bernoulli samplers (CKS 2020, Algorithm 1)', () => {
  it.each([
    ['1/3', { n: 1n, d: 3n }, 1 / 3],
    ['0', { n: 0n, d: 1n }, 0],
    ['1', { n: 5n, d: 5n }, 1],
  ])('bernoulli(%s)', (_, p, want) => {
    const r = seeded(3);
    let hits = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) if (bernoulli(p, r)) hits++;
    const sd = Math.sqrt((want * (1 - want)) / n);
    expect(Math.abs(hits / n - want)).toBeLessThanOrEqual(4 * sd + 1e-12);
  });

  it.each([
    ['0', 0n, 1n],
    ['1/2', 1n, 2n],
    ['1', 1n, 1n],
    ['5/2', 5n, 2n],
    ['7/3', 7n, 3n],
  ])('bernoulliExpMinus(%s) hits with probability exp(−γ)', (_, num, den) => {
    const want = Math.exp(-Number(num) / Number(den));
    const r = seeded(4);
    let hits = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (bernoulliExpMinus({ n: num, d: den }, r)) hits++;
    const sd = Math.sqrt((want * (1 - want)) / n);
    expect(Math.abs(hits / n - want)).toBeLessThanOrEqual(4 * sd + 1e-12);
  });
});

describe('discrete Laplace and discrete Gaussian (CKS 2020, Algorithms 2 and 3)', () => {
  it('the discrete Laplace with scale 2 matches its pmf ∝ exp(−|x|/2) (χ², seeded)', () => {
    const r = seeded(5);
    const n = 20_000;
    const span = 6;
    const weight = (x: number) => Math.exp(-Math.abs(x) / 2);
    let z = 0;
    for (let x = -200; x <= 200; x++) z += weight(x);
    const probs: number[] = [];
    for (let x = -span; x <= span; x++) probs.push(weight(x) / z);
    const tail = (1 - probs.reduce((a, b) => a + b, 0)) / 2;
    const counts = new Array(2 * span + 3).fill(0);
    for (let i = 0; i < n; i++) {
      const x = Number(sampleDiscreteLaplace(2n, r));
      counts[x < -span ? 0 : x > span ? 2 * span + 2 : x + span + 1]++;
    }
    expect(chiSquare(counts, [tail, ...probs, tail], n)).toBeLessThan(40.0); // 14 dof, p ≈ 0.0003
  });

  it('σ² = 0 gives exactly 0', () => {
    expect(sampleDiscreteGaussian({ n: 0n, d: 1n }, () => { throw new Error('no randomness needed'); })).toBe(0n);
  });

  it.each([
    ['exact', 'σ² = 2', 2],
    ['exact', 'σ² = 0.7 (σ < 1)', 0.7],
    ['exact', 'σ² = 30.25', 30.25],
    ['float', 'σ² = 2', 2],
    ['float', 'σ² = 0.7 (σ < 1)', 0.7],
    ['float', 'σ² = 30.25', 30.25],
  ] as const)('%s sampler: N_Z(0, %s) matches the exact pmf ∝ exp(−x²/2σ²) (χ², seeded)', (kind, _, variance) => {
    const draw = SAMPLERS[kind](variance, seeded(6));
    const n = 20_000;
    const sigma = Math.sqrt(variance);
    const span = Math.max(2, Math.ceil(2.5 * sigma));
    const weight = (x: number) => Math.exp(-(x * x) / (2 * variance));
    let z = 0;
    for (let x = -1000; x <= 1000; x++) z += weight(x);
    const probs: number[] = [];
    for (let x = -span; x <= span; x++) probs.push(weight(x) / z);
    const tail = (1 - probs.reduce((a, b) => a + b, 0)) / 2;
    const counts = new Array(2 * span + 3).fill(0);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = draw();
      sum += x;
      sq += x * x;
      counts[x < -span ? 0 : x > span ? 2 * span + 2 : x + span + 1]++;
    }
    const bins = tail * n >= 5 ? [tail, ...probs, tail] : probs;
    const observed = tail * n >= 5 ? counts : counts.slice(1, -1).map((c, i, a) => (i === 0 ? c + counts[0] : i === a.length - 1 ? c + counts[counts.length - 1] : c));
    // 99.99% quantile of χ² with up to 33 dof is below 70.
    expect(chiSquare(observed, bins, n)).toBeLessThan(70);
    // The exact variance of N_Z(0, σ²) is ≤ σ² (and very close to it for σ ≥ 1).
    let exactVar = 0;
    for (let x = -1000; x <= 1000; x++) exactVar += (x * x * weight(x)) / z;
    expect(Math.abs(sum / n)).toBeLessThan(4 * Math.sqrt(exactVar / n));
    expect(Math.abs(sq / n - exactVar)).toBeLessThan(5 * exactVar * Math.sqrt(2 / n));
  });

  it.each(['exact', 'float'] as const)('%s sampler, a large σ (1e6): mean ≈ 0, variance ≈ σ², and the share beyond 3σ ≈ 0.0027 (seeded)', (kind) => {
    const variance = 1e12;
    const draw = SAMPLERS[kind](variance, seeded(7));
    const n = 10_000;
    let sum = 0;
    let sq = 0;
    let beyond = 0;
    for (let i = 0; i < n; i++) {
      const x = draw();
      sum += x;
      sq += x * x;
      if (Math.abs(x) > 3e6) beyond++;
    }
    expect(Math.abs(sum / n)).toBeLessThan(4 * 1e6 / Math.sqrt(n));
    expect(sq / n / variance).toBeGreaterThan(1 - 5 * Math.sqrt(2 / n));
    expect(sq / n / variance).toBeLessThan(1 + 5 * Math.sqrt(2 / n));
    // Binomial(n, 0.0027): mean 27, sd 5.2.
    expect(beyond).toBeGreaterThanOrEqual(27 - 21);
    expect(beyond).toBeLessThanOrEqual(27 + 21);
  });
});

describe('addDiscreteGaussianNoise on the uint32 ring', () => {
  it('adds exactly the sampler\'s noise mod 2^32 to the first `count` values, leaves the rest, counts wraps past ±2^31', () => {
    const variance = 1e16; // σ = 1e8: wraps near the ends of the int32 range are likely
    const values = [0, 5, -7, 2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 100_000_000, 123];
    const data = Uint32Array.from(values.map((v) => v >>> 0));
    const wrapped = addDiscreteGaussianNoise(data, 6, variance, seeded(8));
    const replay = uniformsFrom(seeded(8));
    let wraps = 0;
    for (let i = 0; i < 6; i++) {
      const total = BigInt(values[i]) + BigInt(sampleDiscreteGaussianFloat(variance, replay));
      if (total >= 2n ** 31n || total < -(2n ** 31n)) wraps++;
      expect(data[i]).toBe(Number(BigInt.asUintN(32, total)));
    }
    expect(wraps).toBeGreaterThan(0);
    expect(wrapped).toBe(wraps);
    expect(data[6]).toBe(123);
  });

  it('refuses a count outside [0, length]', () => {
    expect(() => addDiscreteGaussianNoise(new Uint32Array(2), 3, 1, seeded(9))).toThrow(FedtuneError);
    expect(() => addDiscreteGaussianNoise(new Uint32Array(2), -1, 1, seeded(9))).toThrow(FedtuneError);
    expect(addDiscreteGaussianNoise(new Uint32Array(2), 2, 0, seeded(9))).toBe(0);
    expect(() => addDiscreteGaussianNoise(new Uint32Array(2), 2, -1, seeded(9))).toThrow(/variance/);
    expect(() => sampleDiscreteGaussianFloat(Number.NaN, () => 0.5)).toThrow(/variance/);
    expect(sampleDiscreteGaussianFloat(0, () => { throw new Error('no randomness needed'); })).toBe(0);
  });

  it('uniformsFrom reads 53-bit uniforms from the byte stream in order (4 KiB at a time), and copes with an unaligned buffer', () => {
    const bytes = new Uint8Array(4097);
    const view = new DataView(bytes.buffer, 1);
    view.setUint32(0, 0xffffffff, true);
    view.setUint32(4, 0xffffffff, true);
    view.setUint32(8, 0, true);
    view.setUint32(12, 0x80000000, true);
    let calls = 0;
    const u = uniformsFrom((n) => { calls++; expect(n).toBe(4096); return bytes.subarray(1, 1 + n); });
    expect(u()).toBe((2 ** 27 - 1) * 2 ** 26 / 2 ** 53 + (2 ** 26 - 1) / 2 ** 53);
    expect(u()).toBe((0x80000000 >>> 6) / 2 ** 53);
    for (let i = 2; i < 512; i++) u();
    expect(calls).toBe(1);
    u();
    expect(calls).toBe(2);
  });
});
