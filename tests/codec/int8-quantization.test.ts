import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { dequantizeInt8, INT8_LEVELS, INT8_MAX_SCALE, int8Scale, quantizeInt8, type UniformSource } from '../../shared/src/codec/int8-quantization.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { thrown } from '../helpers/thrown.ts';

const constant = (u: number): UniformSource => ({ next: () => u });
const never: UniformSource = {
  next: () => {
    throw new Error('a zero tensor draws nothing');
  },
};

/** A float32 value m whose scale fround(m/127) is rounded down, so m/scale is just above 127. */
function valueAboveLevels(): number {
  for (let m = 1; ; m = Math.fround(m * 1.0001 + 0.001)) {
    if (m / Math.fround(m / 127) > 127) return m;
  }
}

describe('int8Scale: max|x| / 127 as a float32', () => {
  it.each([
    [[127, -3], 1],
    [[-254, 100], 2],
    [[0.5, -1.27, 1], Math.fround(1.27 / 127)],
    [[0, 0, 0], 0],
    [[], 0],
    [[-0.1], Math.fround(Math.fround(0.1) / 127)],
  ])('%j → %f', (x, scale) => {
    expect(int8Scale(new Float32Array(x))).toBe(scale);
  });

  it('refuses NaN and ±infinity with non_finite, naming the index', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const e = thrown(() => int8Scale(new Float32Array([1, 2, bad])));
      expect(e.code).toBe('non_finite');
      expect(e.message).toContain('index 2');
    }
  });

  it('accepts a scale of exactly INT8_MAX_SCALE and refuses the next float32 above it', () => {
    expect(INT8_MAX_SCALE).toBe(2 ** 20);
    expect(int8Scale(new Float32Array([127 * 2 ** 20]))).toBe(2 ** 20);
    const e = thrown(() => int8Scale(new Float32Array([127 * 2 ** 20 + 16])));
    expect(e.code).toBe('non_finite');
    expect(e.message).toContain(String(INT8_MAX_SCALE));
  });
});

describe('quantizeInt8: stochastic rounding', () => {
  it('a zero tensor: scale 0, all zeros, no draws', () => {
    const q = quantizeInt8(new Float32Array(5), never);
    expect(q.scale).toBe(0);
    expect(Array.from(q.values)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(dequantizeInt8(q))).toEqual([0, 0, 0, 0, 0]);
  });

  it.each([
    [0, [127, 0, -1, -127, 3, -3]],
    [0.5, [127, 1, 0, -127, 3, -3]],
    [0.9999, [127, 1, 0, -127, 3, -3]],
    [0.2, [127, 0, -1, -127, 3, -3]],
  ])('u = %f: q = ⌊x/scale + u⌋', (u, expected) => {
    const q = quantizeInt8(new Float32Array([127, 0.5, -0.5, -127, 3, -3]), constant(u));
    expect(q.scale).toBe(1);
    expect(Array.from(q.values)).toEqual(expected);
  });

  it('rounds at exact fractions of the scale', () => {
    const x = new Float32Array([254, 1.5, -1.5, 0.25]); // scale 2: 127, 0.75, -0.75, 0.125
    expect(Array.from(quantizeInt8(x, constant(0.24)).values)).toEqual([127, 0, -1, 0]);
    expect(Array.from(quantizeInt8(x, constant(0.25)).values)).toEqual([127, 1, -1, 0]);
    expect(Array.from(quantizeInt8(x, constant(0.875)).values)).toEqual([127, 1, 0, 1]);
  });

  it('clamps to ±127 when the float32 scale was rounded down', () => {
    const m = valueAboveLevels();
    const x = new Float32Array([m, -m]);
    // m/scale exceeds 127 by ~127·2⁻²⁴ at most: a draw this close to 1 takes ⌊m/scale + u⌋ to 128, clamped.
    const u = 1 - 2 ** -40;
    expect(Math.floor(m / Math.fround(m / 127) + u)).toBe(128);
    expect(Array.from(quantizeInt8(x, constant(u)).values)).toEqual([INT8_LEVELS, -INT8_LEVELS]);
    expect(Array.from(quantizeInt8(x, constant(0.99999)).values)).toEqual([INT8_LEVELS, -INT8_LEVELS + 0]);
    expect(Array.from(quantizeInt8(x, constant(0)).values)).toEqual([INT8_LEVELS, -INT8_LEVELS]);
  });

  it('is unbiased: the mean of many stochastic roundings is x', () => {
    const x = new Float32Array([1.27, 0.3, -0.7, 0.005, -0.0101, 0]);
    const sums = new Float64Array(x.length);
    const random = new SeededRandom(7);
    const n = 4000;
    for (let k = 0; k < n; k++) {
      const d = dequantizeInt8(quantizeInt8(x, random));
      for (let i = 0; i < x.length; i++) sums[i] += d[i];
    }
    const scale = Math.fround(1.27 / 127);
    // Each draw's error is within one scale step, so the mean's standard deviation is at most scale/(2√n).
    for (let i = 0; i < x.length; i++) expect(Math.abs(sums[i] / n - x[i])).toBeLessThan((5 * scale) / (2 * Math.sqrt(n)));
    // …and the rounding is not deterministic: 0.3 = 30 steps of 0.01 is exact, 0.005 is half a step.
    expect(Math.abs(sums[3] / n - x[3])).toBeLessThan(scale / 4);
  });

  it('every value lands on one of its two neighbouring levels', () => {
    const x = new Float32Array(200).map((_, i) => Math.sin(i * 1.7) * 3);
    const q = quantizeInt8(x, new SeededRandom(3));
    for (let i = 0; i < x.length; i++) {
      const y = x[i] / q.scale;
      expect(q.values[i] === Math.floor(y) || q.values[i] === Math.min(127, Math.floor(y) + 1)).toBe(true);
    }
  });

  it('draws exactly one uniform per value (a tensor after it in the same update sees the draws it would alone)', () => {
    let draws = 0;
    const counting: UniformSource = { next: () => (draws++, 0.5) };
    quantizeInt8(new Float32Array([1, -2, 3, 0.5, 0]), counting);
    expect(draws).toBe(5);
  });

  it('dequantizes as q × scale', () => {
    expect(Array.from(dequantizeInt8({ scale: 0.5, values: new Int8Array([-127, 0, 5, 127]) }))).toEqual([-63.5, 0, 2.5, 63.5]);
  });
});
