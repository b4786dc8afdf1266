/**
 * Fixed-point encoding of a weighted update for secure aggregation: integers modulo 2^32 that sum like the
 * reals they stand for, as long as the true sum stays inside (−2^31, 2^31).
 *
 * A site with update x (any tensors) and weight w ≥ 0 sends round(s·w·clamp(x_k, −R, R)) for every coordinate
 * k, then round(s·w) (so the coordinator learns Σw of exactly the sites that were summed), each as uint32
 * (two's complement). With Σw ≤ W over the sites of a round and n sites, the scale
 *   s = (2^31 − 1 − n) / (max(R, 1) · W)
 * keeps every coordinate of the sum inside int32, so the modular sum decodes exactly. Each site's rounding
 * error is ≤ 1/(2s) per coordinate, so the decoded weighted sum is within n/(2s) of the true one:
 * with the defaults (R = 16, W = 1) and 8 sites, ≤ 3.0e-8 — and the weighted mean Σwx/Σw within
 * n/(2s)·(1 + R)/Σw. Coordinates outside [−R, R] are clamped and counted: clip updates before this.
 */
import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';

export interface FixedPointOptions {
  /** R: every coordinate is clamped to [−R, R] (default 16). */
  range?: number;
  /** W: bound on the sum of the weights of one round's sites (default 1: weights that sum to ≤ 1). */
  maxTotalWeight?: number;
  /** n: the most sites one sum can hold. */
  sites: number;
}

export interface FixedPointConfig {
  range: number;
  maxTotalWeight: number;
  /** s: real value v is sent as round(s·v). */
  scale: number;
}

export const DEFAULT_FIXED_POINT_RANGE = 16;

export function fixedPointConfig(o: FixedPointOptions): FixedPointConfig {
  const range = o.range ?? DEFAULT_FIXED_POINT_RANGE;
  const maxTotalWeight = o.maxTotalWeight ?? 1;
  if (!(Number.isFinite(range) && range > 0)) throw new FedtuneError('config', `fixed-point range must be > 0, got ${range}`);
  if (!(Number.isFinite(maxTotalWeight) && maxTotalWeight > 0)) throw new FedtuneError('config', `max total weight must be > 0, got ${maxTotalWeight}`);
  if (!(Number.isInteger(o.sites) && o.sites >= 1 && o.sites < 2 ** 20)) throw new FedtuneError('config', `sites must be an integer in [1, 2^20), got ${o.sites}`);
  const scale = (2 ** 31 - 1 - o.sites) / (Math.max(range, 1) * maxTotalWeight);
  return { range, maxTotalWeight, scale };
}

/** Bound on the absolute error of each coordinate of a decoded weighted sum of `sites` inputs. */
export function fixedPointSumError(fp: FixedPointConfig, sites: number): number {
  return sites / (2 * fp.scale);
}

export interface QuantizedUpdate {
  /** Coordinates of w·x in tensor order, then w; uint32 two's complement. */
  data: Uint32Array;
  /** Coordinates that were outside [−R, R] and clamped. */
  clamped: number;
}

/** Encodes w·x (and w) as fixed point modulo 2^32. `weight` must be in [0, maxTotalWeight]. */
export function quantize(update: WeightArrays, weight: number, fp: FixedPointConfig): QuantizedUpdate {
  if (!(Number.isFinite(weight) && weight >= 0 && weight <= fp.maxTotalWeight)) {
    throw new FedtuneError('config', `weight must be in [0, ${fp.maxTotalWeight}], got ${weight}`);
  }
  const length = update.reduce((n, a) => n + a.length, 0);
  const data = new Uint32Array(length + 1);
  const ws = weight * fp.scale;
  const r = fp.range;
  let clamped = 0;
  let k = 0;
  for (const a of update) {
    for (let i = 0; i < a.length; i++) {
      let v = a[i];
      if (!(v >= -r && v <= r)) {
        if (Number.isNaN(v)) throw new FedtuneError('non_finite', 'the update has a NaN');
        // Stryker disable next-line EqualityOperator: equivalent: v is outside [−R, R] here, so v > R and v ≥ R agree.
        v = v > r ? r : -r;
        clamped++;
      }
      data[k++] = Math.round(ws * v); // a negative integer wraps to its two's complement
    }
  }
  data[k] = Math.round(ws);
  return { data, clamped };
}

export interface DequantizedSum {
  /** Σ w·x, shaped like `lengths`. */
  weightedSum: WeightArrays;
  /** Σ w. */
  totalWeight: number;
  /** Σ w·x / Σ w (the weighted mean; zeros when Σ w = 0). */
  mean: WeightArrays;
}

/** Decodes a (sum of) quantized update(s) into tensors of the given lengths. */
export function dequantize(data: Uint32Array, lengths: readonly number[], fp: FixedPointConfig): DequantizedSum {
  const expected = lengths.reduce((n, l) => n + l, 0) + 1;
  if (data.length !== expected) throw new FedtuneError('shape_mismatch', `fixed-point vector has ${data.length} values, expected ${expected}`);
  const signed = new Int32Array(data.buffer, data.byteOffset, data.length);
  const totalWeight = signed[expected - 1] / fp.scale;
  const inv = 1 / fp.scale;
  const meanFactor = totalWeight > 0 ? 1 / totalWeight : 0;
  const weightedSum: WeightArrays = [];
  const mean: WeightArrays = [];
  let k = 0;
  for (const len of lengths) {
    const s = new Float32Array(len);
    const m = new Float32Array(len);
    for (let i = 0; i < len; i++, k++) {
      const v = signed[k] * inv;
      s[i] = v;
      m[i] = v * meanFactor;
    }
    weightedSum.push(s);
    mean.push(m);
  }
  return { weightedSum, totalWeight, mean };
}
