import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { FLOAT16_EXPONENT_MASK, FLOAT16_MAX, float16Bits, float16Value } from '../../shared/src/codec/float16.ts';

describe('float16Bits: IEEE half, round to nearest even', () => {
  it.each([
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['1', 1, 0x3c00],
    ['-2', -2, 0xc000],
    ['0.5', 0.5, 0x3800],
    ['1/3 (rounds down)', 1 / 3, 0x3555],
    ['max 65504', 65504, 0x7bff],
    ['-65504', -65504, 0xfbff],
    ['65519 rounds down to 65504', 65519, 0x7bff],
    ['65520 is a tie: to even, which is infinity', 65520, 0x7c00],
    ['1e6 overflows to infinity', 1e6, 0x7c00],
    ['-1e6 overflows to -infinity', -1e6, 0xfc00],
    ['Infinity', Infinity, 0x7c00],
    ['-Infinity', -Infinity, 0xfc00],
    ['NaN', NaN, 0x7e00],
    ['smallest normal 2^-14', 2 ** -14, 0x0400],
    ['largest subnormal 1023·2^-24', 1023 * 2 ** -24, 0x03ff],
    ['smallest subnormal 2^-24', 2 ** -24, 0x0001],
    ['-2^-24', -(2 ** -24), 0x8001],
    ['2^-15 (exponent field 0 after rebias)', 2 ** -15, 0x0200],
    ['2^-25 is a tie between 0 and 2^-24: to even 0', 2 ** -25, 0x0000],
    ['-2^-25 to -0', -(2 ** -25), 0x8000],
    ['just above 2^-25 rounds up', 2 ** -25 * (1 + 2 ** -20), 0x0001],
    ['2^-26 to 0', 2 ** -26, 0x0000],
    ['1.25·2^-24 rounds down', 1.25 * 2 ** -24, 0x0001],
    ['1.75·2^-24 rounds up', 1.75 * 2 ** -24, 0x0002],
    ['1.5·2^-24 tie: to even 2', 1.5 * 2 ** -24, 0x0002],
    ['2.5·2^-24 tie: to even 2', 2.5 * 2 ** -24, 0x0002],
    ['1 + 2^-11 tie: to even 1', 1 + 2 ** -11, 0x3c00],
    ['1 + 3·2^-11 tie: to even 1 + 2^-9', 1 + 3 * 2 ** -11, 0x3c02],
    ['1 + 2^-11 + 2^-20 rounds up', 1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ['1 + 2^-11 − 2^-20 rounds down', 1 + 2 ** -11 - 2 ** -20, 0x3c00],
    ['2 − 2^-11 tie: carries into the exponent', 2 - 2 ** -11, 0x4000],
    ['subnormal carry to the smallest normal', 1023.5 * 2 ** -24, 0x0400],
    ['float32 max', 3.4028234663852886e38, 0x7c00],
    // Exponent 31 after the rebias (values in [2^16, 2^17)): infinity, not the NaN pattern 0x7c00 | mantissa.
    ['70000 overflows to Infinity', 70000, 0x7c00],
    ['-1e5 overflows to -Infinity', -1e5, 0xfc00],
    // Far below the subnormals, where the subnormal path's shift would pass 31 bits (JS shifts mod 32): ±0.
    ['2^-33 to 0', 2 ** -33, 0x0000],
    ['1e-10 to 0', 1e-10, 0x0000],
    ['-1e-30 to -0', -1e-30, 0x8000],
    ['float32 smallest subnormal', 1.401298464324817e-45, 0x0000],
  ])('%s', (_, x, bits) => {
    expect(float16Bits(x)).toBe(bits);
  });

  it('every finite half survives a round trip bit for bit, and the values increase with the bits', () => {
    let previous = -Infinity;
    const wrong: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      const v = float16Value(h);
      if (float16Bits(v) !== h || float16Bits(-v) !== (h | 0x8000) || !(v > previous)) wrong.push(h);
      previous = v;
    }
    expect(wrong).toEqual([]);
    expect(previous).toBe(FLOAT16_MAX);
  });

  it('rounds to the nearest half over a sweep of values between halves', () => {
    for (let h = 0; h < 0x7bff; h += 37) {
      const lo = float16Value(h);
      const hi = float16Value(h + 1);
      expect(float16Bits(lo + (hi - lo) * 0.3)).toBe(h);
      expect(float16Bits(lo + (hi - lo) * 0.7)).toBe(h + 1);
    }
  });
});

describe('float16Value', () => {
  it.each([
    [0x0000, 0],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3c00, 1],
    [0x3c01, 1 + 2 ** -10],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0xfbff, -65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('0x%s', (h, v) => {
    expect(float16Value(h)).toBe(v);
  });

  it('-0 keeps its sign; exponent 31 with a mantissa is NaN', () => {
    expect(Object.is(float16Value(0x8000), -0)).toBe(true);
    expect(Object.is(float16Value(0x0000), 0)).toBe(true);
    expect(float16Value(0x7e00)).toBeNaN();
    expect(float16Value(0x7c01)).toBeNaN();
    expect(float16Value(0xfc01)).toBeNaN();
  });

  it('the exponent mask is the infinity pattern', () => {
    expect(FLOAT16_EXPONENT_MASK).toBe(0x7c00);
    expect(FLOAT16_MAX).toBe(65504);
  });
});
