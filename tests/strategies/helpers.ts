import { FedtuneError } from '../../shared/src/errors.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import type { WeightedUpdate } from '../../shared/src/strategies/strategy.ts';
import type { WeightArrays } from '../../shared/src/weights.ts';

export const f32 = (...v: number[]): Float32Array => new Float32Array(v);

export const upd = (siteId: string, weights: WeightArrays, numExamples = 1): WeightedUpdate => ({ siteId, weights, numExamples });

/** One-tensor updates from plain rows, site ids s0, s1, … (zero-padded so they sort in row order). */
export function rows(values: number[][], counts?: number[]): WeightedUpdate[] {
  return values.map((v, k) => upd(`s${String(k).padStart(2, '0')}`, [new Float32Array(v)], counts?.[k] ?? 1));
}

/** The FedtuneError code thrown by fn, 'untyped' for another error, 'no error' if it returns. */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof FedtuneError ? e.code : 'untyped';
  }
  return 'no error';
}

export function randomArrays(rng: SeededRandom, sizes: number[], scale = 1, centre?: WeightArrays): WeightArrays {
  return sizes.map((n, t) => Float32Array.from({ length: n }, (_, i) => (centre ? centre[t][i] : 0) + scale * rng.normal()));
}

/** L2 distance between two weight lists, over all tensors. */
export function distance(a: WeightArrays, b: WeightArrays): number {
  let s = 0;
  for (let t = 0; t < a.length; t++) for (let i = 0; i < a[t].length; i++) s += (a[t][i] - b[t][i]) ** 2;
  return Math.sqrt(s);
}

export const list = (w: WeightArrays): number[][] => w.map((a) => Array.from(a));

/** Bytes of any value built from plain data and typed arrays, for bit-identical comparisons. */
export function bits(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    ArrayBuffer.isView(v) ? { typed: v.constructor.name, hex: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') } : v,
  );
}

/** True when a value is made only of null, booleans, numbers, strings, arrays, plain objects and Float32Arrays. */
export function isPlainData(value: unknown): boolean {
  if (value === null || ['number', 'string', 'boolean'].includes(typeof value)) return true;
  if (value instanceof Float32Array) return true;
  if (Array.isArray(value)) return value.every(isPlainData);
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    return (proto === Object.prototype || proto === null) && Object.values(value as object).every(isPlainData);
  }
  return false;
}
