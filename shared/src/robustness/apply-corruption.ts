import { featureSize, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import type { Corruption, FeatureStats } from './corruption.ts';

export type InputKind = 'image' | 'tabular';

export interface InputGeometry {
  kind: InputKind;
  /** Image width and height (for tabular data: features × 1). */
  width: number;
  height: number;
}

/**
 * Whether examples are single-channel images, and their size: feature shape [h, w] or [h, w, 1], or a flat
 * [n] whose n is a square ≥ 64 with all values in [0, 1] (e.g. 784 pixel columns of a digits CSV).
 * Anything else is tabular. `kind` forces the answer; `imageSize` gives [width, height] of flat images.
 */
export function inputGeometry(ds: Dataset, kind: InputKind | 'auto' = 'auto', imageSize?: [number, number]): InputGeometry {
  const f = featureSize(ds);
  const shape = ds.featureShape;
  const fromShape = shape.length === 2 || (shape.length === 3 && shape[2] === 1) ? { width: shape[1], height: shape[0] } : undefined;
  const side = Math.round(Math.sqrt(f));
  const square = side * side === f && f >= 64 ? { width: side, height: side } : undefined;
  const size = imageSize ? { width: imageSize[0], height: imageSize[1] } : fromShape ?? square;
  if (kind === 'tabular') return { kind, width: f, height: 1 };
  if (kind === 'image') {
    if (!size || size.width * size.height !== f) throw new FedtuneError('config', `cannot treat ${f} features as a single-channel image (give imageSize)`);
    return { kind, ...size };
  }
  if (size && size.width * size.height === f && (fromShape || imageSize || inUnitRange(ds.x))) return { kind: 'image', ...size };
  return { kind: 'tabular', width: f, height: 1 };
}

function inUnitRange(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (!(x[i] >= 0 && x[i] <= 1)) return false;
  return true;
}

/** Per-feature mean, standard deviation, min and max. */
export function featureStats(ds: Dataset): FeatureStats {
  const f = featureSize(ds);
  const n = ds.y.length;
  const mean = new Float32Array(f);
  const std = new Float32Array(f);
  const min = new Float32Array(f).fill(Infinity);
  const max = new Float32Array(f).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      const v = ds.x[i * f + j];
      mean[j] += v / n;
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) std[j] += (ds.x[i * f + j] - mean[j]) ** 2 / n;
  for (let j = 0; j < f; j++) {
    std[j] = Math.sqrt(std[j]);
    if (n === 0) min[j] = max[j] = 0;
  }
  return { mean, std, min, max };
}

export interface ApplyCorruptionOptions {
  geometry: InputGeometry;
  seed: number;
  stats?: FeatureStats;
  /** Example indices to corrupt (default all); the others are copied unchanged. */
  only?: ArrayLike<number>;
}

/**
 * A copy of `ds` with `corruption` applied to every example (or those in `only`). Example i draws from
 * its own generator seeded by (seed, corruption name, i), so results do not depend on batching.
 */
export function applyCorruption(ds: Dataset, corruption: Corruption, options: ApplyCorruptionOptions): Dataset {
  const x = ds.x.slice();
  corruptExamples(x, ds, corruption, options, 0, ds.y.length);
  return { ...ds, x, featureShape: [...ds.featureShape] };
}

/**
 * applyCorruption's work for the examples from `from` to `to` (exclusive; of `options.only` when given) only,
 * written into `x` (a copy of `ds.x`): each example is corrupted exactly as applyCorruption corrupts it (its
 * own seeded generator), so a caller may corrupt a dataset in chunks (perturbed-inputs.ts) with the same result.
 */
export function corruptExamples(x: Float32Array, ds: Dataset, corruption: Corruption, options: ApplyCorruptionOptions, from: number, to: number): void {
  const f = featureSize(ds);
  const { width, height } = options.geometry;
  const count = options.only ? options.only.length : ds.y.length;
  for (let k = Math.max(0, from); k < Math.min(to, count); k++) {
    const i = options.only ? options.only[k] : k;
    const rng = new SeededRandom(deriveSeed(options.seed, corruption.name, i));
    x.set(corruption.apply(ds.x.subarray(i * f, (i + 1) * f), { width, height, rng, stats: options.stats }), i * f);
  }
}

/** Smallest and largest value (loop, not spread: arrays may be large). [0, 1] for an empty array. */
export function valueRange(values: ArrayLike<number>): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  return [lo, hi];
}
