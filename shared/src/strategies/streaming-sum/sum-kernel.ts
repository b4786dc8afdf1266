/**
 * What StreamingFedAvg needs from an exact-sum kernel (streaming-sum.wat in wasm SIMD, or its JS twin).
 *
 * The state is two i64 accumulators per parameter, `hi` then `lo`, each `capacity` values long, kept as
 * little-endian (low word, high word) int32 pairs in `words`: the wasm kernel's own memory, viewed.
 */
export interface SumKernel {
  readonly kind: 'wasm' | 'js';
  /** [hi_0.low, hi_0.high, …, hi_{capacity−1}.high, lo_0.low, …]: 4 × capacity int32 words. */
  readonly words: Int32Array;
  /**
   * Folds `values` (parameters start … start + values.length − 1) in with weight ns = n · 2^-G. A value with
   * !(|v| ≤ bound) is added as 0 and makes the result true (the caller then subtracts the same piece).
   */
  add(values: Float32Array, start: number, ns: number, bound: number): boolean;
  /**
   * The float32 values (H + L·2^-43)·scale of parameters start … start + count − 1, H and L their hi and lo
   * sums, each summed exactly from four float64 parts (TwoSum) and rounded once at the end.
   */
  mean(start: number, count: number, scale: number): Float32Array;
}

/** Accumulator slots past the last parameter: the wasm kernel works on 4 values at a time and adds zeros there. */
export const SUM_PADDING = 4;
