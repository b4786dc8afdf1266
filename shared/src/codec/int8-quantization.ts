import { FedtuneError } from '../errors.ts';
/** A source of uniform draws in [0, 1) (SeededRandom). */
export interface UniformSource {
  next(): number;
}

/**
 * Per-tensor int8 quantization with stochastic rounding (the int8 update encoding, update-codec.ts).
 * scale = max|x| / 127 (rounded to float32, as it travels); each value becomes q = ⌊x/scale + u⌋ with u
 * uniform in [0, 1), clamped to ±127, so E[q·scale] = x: the average of many sites' updates is unbiased.
 * The rounding draws come from a seeded generator, so an encoding is reproducible.
 */

/** Quantized values lie in ±INT8_LEVELS (symmetric: −128 is never produced and is refused on decoding). */
export const INT8_LEVELS = 127;

/**
 * Largest scale accepted (encoding and decoding): values up to 127 × 2^20 ≈ 1.3e8 — far beyond any real
 * update delta, small enough that a decoded value is always a finite float32.
 */
export const INT8_MAX_SCALE = 2 ** 20;

export interface Int8Tensor {
  scale: number;
  values: Int8Array;
}

/** The tensor's scale: max|x| / 127 as a float32. Throws 'non_finite' for a NaN or infinite value, or a scale above INT8_MAX_SCALE. */
export function int8Scale(x: Float32Array): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (!(a < Infinity)) throw new FedtuneError('non_finite', `cannot quantize a non-finite value (${x[i]}) at index ${i}`);
    // Stryker disable next-line EqualityOperator: equivalent: an equal value leaves max as it is.
    if (a > max) max = a;
  }
  const scale = Math.fround(max / INT8_LEVELS);
  if (scale > INT8_MAX_SCALE) throw new FedtuneError('non_finite', `cannot quantize values up to ${max}: the int8 scale would exceed ${INT8_MAX_SCALE}`);
  return scale;
}

export function quantizeInt8(x: Float32Array, random: UniformSource): Int8Tensor {
  const scale = int8Scale(x);
  const values = new Int8Array(x.length);
  if (scale === 0) return { scale, values };
  for (let i = 0; i < x.length; i++) {
    const q = Math.floor(x[i] / scale + random.next());
    // Stryker disable next-line EqualityOperator: equivalent: at q = ±127 the clamp gives q itself.
    values[i] = q > INT8_LEVELS ? INT8_LEVELS : q < -INT8_LEVELS ? -INT8_LEVELS : q;
  }
  return { scale, values };
}

/** q × scale for every value, as float64 numbers' float32 roundings. */
export function dequantizeInt8(t: Int8Tensor): Float32Array {
  const out = new Float32Array(t.values.length);
  // Stryker disable next-line EqualityOperator: equivalent: a write past a typed array's end is ignored.
  for (let i = 0; i < out.length; i++) out[i] = t.values[i] * t.scale;
  return out;
}
