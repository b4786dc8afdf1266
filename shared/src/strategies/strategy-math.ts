import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';

/**
 * Shared loops for the strategies: tight passes over Float32Arrays, float64 accumulators, no allocation per
 * coordinate. Values are assumed finite (the round engine's validation stage rejects NaN and ±Infinity).
 */

/** Tensor `t` of every update, in update order. */
export function tensorColumns(updates: ReadonlyArray<{ weights: WeightArrays }>, t: number): Float32Array[] {
  return updates.map((u) => u.weights[t]);
}

/** Number of examples of each update over their sum. */
export function exampleShares(updates: ReadonlyArray<{ numExamples: number }>): Float64Array {
  let total = 0;
  for (const u of updates) total += u.numExamples;
  return Float64Array.from(updates, (u) => u.numExamples / total);
}

/**
 * out = offset + Σ_k coeffs[k] · (cols[k] − base), over one tensor, with the sum in float64. `base` is a
 * float64 reference point (e.g. global + centre); `offset` defaults to `base`. Updates are combined four
 * at a time per pass, so the accumulator is read and written once per four updates.
 */
export function addWeightedDeltas(
  out: Float32Array,
  base: Float64Array | Float32Array,
  cols: Float32Array[],
  coeffs: Float64Array,
  offset: Float64Array | Float32Array = base,
): void {
  const n = out.length;
  const acc = new Float64Array(n);
  const idx: number[] = [];
  for (let k = 0; k < cols.length; k++) if (coeffs[k] !== 0) idx.push(k);
  let j = 0;
  // Stryker disable next-line ConditionalExpression: equivalent up to float64 rounding: the four-at-a-time pass is a speed choice; the one-at-a-time loop below sums the same terms.
  for (; j + 3 < idx.length; j += 4) {
    const a = cols[idx[j]], b = cols[idx[j + 1]], c = cols[idx[j + 2]], d = cols[idx[j + 3]];
    const ca = coeffs[idx[j]], cb = coeffs[idx[j + 1]], cc = coeffs[idx[j + 2]], cd = coeffs[idx[j + 3]];
    const cs = ca + cb + cc + cd;
    // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end and reads there give undefined, which only reaches such writes.
    for (let i = 0; i < n; i++) acc[i] += ca * a[i] + cb * b[i] + cc * c[i] + cd * d[i] - cs * base[i];
  }
  for (; j < idx.length; j++) {
    const a = cols[idx[j]], ca = coeffs[idx[j]];
    // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end and reads there give undefined, which only reaches such writes.
    for (let i = 0; i < n; i++) acc[i] += ca * (a[i] - base[i]);
  }
  // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end and reads there give undefined, which only reaches such writes.
  for (let i = 0; i < n; i++) out[i] = offset[i] + acc[i];
}

/** ‖cols[k] − base‖² over one tensor, added into sums[k] for every k. */
export function addSquaredDistances(sums: Float64Array, cols: Float32Array[], base: Float64Array | Float32Array): void {
  const n = base.length;
  for (let k = 0; k < cols.length; k++) {
    const w = cols[k];
    let s0 = 0, s1 = 0;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const d0 = w[i] - base[i], d1 = w[i + 1] - base[i + 1];
      s0 += d0 * d0;
      s1 += d1 * d1;
    }
    if (i < n) {
      const d0 = w[i] - base[i];
      s0 += d0 * d0;
    }
    sums[k] += s0 + s1;
  }
}

/**
 * Batcher's odd–even merge sorting network for n inputs, as comparator pairs (a, b) with a < b: after
 * applying them in order, position p holds the p-th smallest value. Comparators whose outputs cannot reach
 * a position in `keep` (default: all) are pruned, so a median needs fewer than a full sort.
 */
export function sortingNetwork(n: number, keep?: readonly number[]): Int32Array {
  const pairs: Array<[number, number]> = [];
  let size = 1;
  while (size < n) size <<= 1;
  for (let p = 1; p < size; p <<= 1) {
    for (let k = p; k >= 1; k >>= 1) {
      // Stryker disable next-line EqualityOperator,ArithmeticOperator: equivalent: an extra j (or the loop running on past size) has no i with i + j + k < n ≤ size, so adds no comparator.
      for (let j = k % p; j + k < size; j += 2 * k) {
        // Stryker disable next-line ArithmeticOperator: equivalent: the i past size − j − k have i + j + k ≥ size ≥ n, which the condition below refuses.
        for (let i = 0; i < Math.min(k, size - j - k); i++) {
          if (Math.floor((i + j) / (2 * p)) === Math.floor((i + j + k) / (2 * p)) && i + j + k < n) pairs.push([i + j, i + j + k]);
        }
      }
    }
  }
  let used = pairs;
  if (keep) {
    const needed = new Set(keep);
    used = [];
    for (let c = pairs.length - 1; c >= 0; c--) {
      const [a, b] = pairs[c];
      if (needed.has(a) || needed.has(b)) {
        used.push(pairs[c]);
        needed.add(a);
        needed.add(b);
      }
    }
    used.reverse();
  }
  return Int32Array.from(used.flat());
}

/** Coordinates are sorted in blocks of 512: 512 × n values stay in cache. */
export const SORT_BLOCK = 512;

/**
 * Called once per block of coordinates with the sorted values: `sorted[p * SORT_BLOCK + i]` is the p-th
 * smallest of the n values at coordinate `start + i` (rows outside the network's kept positions are
 * unspecified). Writes out[start .. start + len).
 */
export type SortedBlockReducer = (sorted: Float32Array, len: number, out: Float32Array, start: number) => void;

/**
 * Sorts the n values of every coordinate across `cols` with a sorting network and hands each block to
 * `reduce`. Exact and branch-free: float32 values are compared as integers (their bits, with the magnitude
 * bits flipped for negatives, order as the numbers do; −0 sorts before +0) and swapped with an integer mask,
 * so random data causes no mispredicted branches. One reused block buffer; no allocation per coordinate.
 */
export function sortedCoordinates(cols: Float32Array[], out: Float32Array, network: Int32Array, reduce: SortedBlockReducer): void {
  const n = cols.length;
  const B = SORT_BLOCK;
  const keys = new Int32Array(n * B);
  const sorted = new Float32Array(keys.buffer);
  const bits = cols.map((c) => new Int32Array(c.buffer, c.byteOffset, c.length));
  const total = out.length;
  const m = network.length;
  // Stryker disable next-line EqualityOperator: equivalent: a block at start = total has len 0, and its reducer writes nothing.
  for (let start = 0; start < total; start += B) {
    const len = Math.min(B, total - start);
    for (let k = 0; k < n; k++) {
      const src = bits[k], o = k * B;
      // Stryker disable next-line EqualityOperator: equivalent: the slot at i = len is the next row's first (rewritten when that row is filled) or past the buffer; a typed array ignores writes past its end and reads there give undefined, which only reaches such writes.
      for (let i = 0; i < len; i++) {
        const x = src[start + i];
        keys[o + i] = x ^ ((x >> 31) & 0x7fffffff);
      }
    }
    // Stryker disable next-line EqualityOperator: equivalent: network[m] is undefined, so the comparator's offsets are NaN and its reads and writes touch no element.
    for (let c = 0; c < m; c += 2) {
      const oa = network[c] * B, ob = network[c + 1] * B;
      for (let i = 0; i < len; i++) {
        const x = keys[oa + i], y = keys[ob + i];
        const swap = (x ^ y) & -((y < x) as unknown as number); // all ones when out of order
        keys[oa + i] = x ^ swap;
        keys[ob + i] = y ^ swap;
      }
    }
    // Keys back to float32 bits, in place (the mapping is its own inverse).
    // Stryker disable next-line EqualityOperator: equivalent: a typed array ignores writes past its end and reads there give undefined, which only reaches such writes.
    for (let j = 0, end = n * B; j < end; j++) {
      const x = keys[j];
      keys[j] = x ^ ((x >> 31) & 0x7fffffff);
    }
    reduce(sorted, len, out, start);
  }
}

/**
 * Squared L2 distances between every pair of models (over all tensors), as an n×n row-major matrix.
 * Blocked over coordinates so each block of the n models is read from cache for all pairs.
 */
export function pairwiseSquaredDistances(models: WeightArrays[]): Float64Array {
  const n = models.length;
  const d = new Float64Array(n * n);
  const BLOCK = 2048;
  const tensors = models.length ? models[0].length : 0;
  for (let t = 0; t < tensors; t++) {
    const cols = models.map((m) => m[t]);
    const len = cols[0].length;
    // Stryker disable next-line EqualityOperator: equivalent: a block at start = len sums nothing and adds 0.
    for (let start = 0; start < len; start += BLOCK) {
      const end = Math.min(len, start + BLOCK);
      // Stryker disable next-line EqualityOperator: equivalent: at a = n the inner loop starts past n and runs no pair.
      for (let a = 0; a < n; a++) {
        const x = cols[a];
        for (let b = a + 1; b < n; b++) {
          const y = cols[b];
          // Four partial sums break the add-latency chain.
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          let i = start;
          // Stryker disable next-line ConditionalExpression: equivalent up to float64 rounding: the four partial sums are a speed choice; the loop below sums the same squares.
          for (; i + 3 < end; i += 4) {
            const d0 = x[i] - y[i], d1 = x[i + 1] - y[i + 1], d2 = x[i + 2] - y[i + 2], d3 = x[i + 3] - y[i + 3];
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
          }
          for (; i < end; i++) {
            const d0 = x[i] - y[i];
            s0 += d0 * d0;
          }
          d[a * n + b] += s0 + s1 + (s2 + s3);
        }
      }
    }
  }
  // Stryker disable next-line EqualityOperator,ArithmeticOperator: equivalent: extra pairs are the diagonal, a pair already mirrored, or indices past the matrix (ignored).
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) d[b * n + a] = d[a * n + b];
  return d;
}

/** Throws FedtuneError('shape_mismatch') unless a state buffer has the global model's layout. */
export function checkStateLayout(strategy: string, what: string, global: WeightArrays, buffers: WeightArrays): void {
  if (!Array.isArray(buffers) || buffers.length !== global.length) {
    throw new FedtuneError('shape_mismatch', `${strategy}: state ${what} has ${buffers?.length} tensors, the global model has ${global.length}`);
  }
  for (let t = 0; t < global.length; t++) {
    if (!(buffers[t] instanceof Float32Array) || buffers[t].length !== global[t].length) {
      throw new FedtuneError('shape_mismatch', `${strategy}: state ${what} tensor ${t} does not match the global model (${global[t].length} values)`);
    }
  }
}

/** Throws FedtuneError('config') unless a state's round counter is a non-negative integer. */
export function checkRound(strategy: string, round: unknown): number {
  // Stryker disable next-line ConditionalExpression: equivalent: Number.isInteger is false for anything but a number.
  if (typeof round !== 'number' || !Number.isInteger(round) || round < 0) {
    throw new FedtuneError('config', `${strategy}: state round must be a non-negative integer, got ${String(round)}`);
  }
  return round;
}
