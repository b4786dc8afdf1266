/**
 * IEEE 754 binary16 ("half") conversion of float32 values, round-to-nearest-even, as bit patterns
 * (uint16). Used by the fp16 update encoding (update-codec.ts).
 */

/** Largest finite half: 65504. Values of magnitude 65520 and above round to infinity. */
export const FLOAT16_MAX = 65504;

/** The bits of the exponent field of a half: all set means infinity (mantissa 0) or NaN. */
export const FLOAT16_EXPONENT_MASK = 0x7c00;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The half nearest to `x` (as a float32 first), ties to even. Overflow gives ±infinity (0x7c00), NaN a quiet
 * NaN (0x7e00), values below half the smallest subnormal (2^-25) ±0.
 */
export function float16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exponent = (b >>> 23) & 0xff;
  let mantissa = b & 0x7fffff;
  if (exponent === 0xff) return sign | (mantissa === 0 ? 0x7c00 : 0x7e00);
  const e = exponent - 112; // rebias: 127 − 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Below the normal range: a subnormal half (or zero), 13 + (1 − e) mantissa bits dropped.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let h = mantissa >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa moves into the exponent, up to infinity: still the nearest half.
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** The value of half bits `h` (0..0xffff). Exponent 31: ±infinity or NaN. */
export function float16Value(h: number): number {
  const sign = (h & 0x8000) === 0 ? 1 : -1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}
