/**
 * What StreamingFedAvg needs from an exact-sum kernel (streaming-sum.wat in wasm SIMD, or its JS twin).
 *
 * The state is one integer T = hi · 2^43 + lo per parameter (hi, lo two i64 accumulators, canonical after
 * `flush`: 0 ≤ lo < 2^43), each `capacity` values long, kept as little-endian (low word, high word) int32
 * pairs in `words`: the wasm kernel's own memory, viewed.
 *
 * An update is staged tensor by tensor (`stage`, which also returns its largest |w| for the range check),
 * then either committed with its weight — added to the sums — or dropped (`discard`). Between two `flush`es
 * the sums may hold more than T in their words (the wasm kernel leaves its constants' bits and the carry to
 * `flush`): read `words` only after one.
 */
export interface SumKernel {
  readonly kind: 'wasm' | 'js';
  /** [hi_0.low, hi_0.high, …, hi_{capacity−1}.high, lo_0.low, …]: 4 × capacity int32 words. Current after `flush`. */
  readonly words: Int32Array;
  /**
   * Where the next update may be written in place, one float32 per parameter (its tensors at their offsets),
   * so that `stage` need not copy it: the wasm kernel's one staging slot, a fresh array for the JS one. Valid
   * until that update is committed or discarded.
   */
  stagingArea(): Float32Array;
  /** Stages `values` as parameters start … start + values.length − 1 of the next update; returns their largest |w| (NaN if one is NaN, 0 if none). */
  stage(values: Float32Array, start: number): number;
  /** Commits the staged update with weight ns = n · 2^-G; `maxAbs` is its largest |w| (from `stage`). */
  commit(ns: number, maxAbs: number): void;
  /** Drops the staged update (it was refused). */
  discard(): void;
  /** Back to zero updates (sums 0, nothing staged or pending), keeping the memory. */
  reset(): void;
  /** Makes `words` the canonical T of every committed update. */
  flush(): void;
  /**
   * The float32 values (H + L·2^-43)·scale of parameters start … start + count − 1, H and L their hi and lo
   * sums, each summed exactly from four float64 parts (TwoSum) and rounded once at the end. After `flush`.
   */
  mean(start: number, count: number, scale: number): Float32Array;
}

/** Accumulator slots past the last parameter: the wasm kernel works on 4 values at a time and adds zeros there. */
export const SUM_PADDING = 4;

/** An update is "small" when every |w · ns| ≤ 2^SMALL_TERM_EXPONENT: its terms round to the lo grid in one float64 add and go to lo only (streaming-sum.wat). */
export const SMALL_TERM_EXPONENT = 7;

/** Carries each lo accumulator's bits above 2^43 into its hi one, so 0 ≤ lo < 2^43: one representation per sum (words as in SumKernel). */
export function canonicalize(words: Int32Array, capacity: number): void {
  const loBase = 2 * capacity;
  // Stryker disable next-line EqualityOperator: equivalent: one pair past the end reads undefined (carry 0) and writes nothing.
  for (let j = 0; j < 2 * capacity; j += 2) {
    const high = words[loBase + j + 1];
    const carry = high >> 11; // lo >> 43 (arithmetic): −2^20 … 2^20 − 1
    // Stryker disable next-line ConditionalExpression: equivalent: a shortcut; with carry 0 the words below are written back unchanged.
    if (carry === 0) continue;
    words[loBase + j + 1] = high & 0x7ff;
    const low = (words[j] >>> 0) + (carry >>> 0);
    words[j] = low | 0;
    words[j + 1] = (words[j + 1] + (carry >> 31) + (low >= 2 ** 32 ? 1 : 0)) | 0;
  }
}
