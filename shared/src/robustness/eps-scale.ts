import type { Dataset } from '../data/dataset.ts';
import { featureStats } from './apply-corruption.ts';

/**
 * Units of an attack's ε (and of its step size):
 *   - 'absolute': input units (pixels on [0, 1]);
 *   - 'feature-std': feature j moves by ε × its standard deviation on the data (tabular data, whose
 *     features have their own scales);
 *   - 'data-std': ε × the standard deviation of all the data's input values, one scalar (images: a pixel
 *     budget relative to the images' spread, so ε means the same on dim or noisy scans as on clean ones).
 */
export type EpsUnits = 'absolute' | 'feature-std' | 'data-std';

/** How ε in some units becomes input units on one dataset. */
export interface EpsScale {
  units: EpsUnits;
  /** Absolute input units per unit of ε: 1, the data's standard deviation, or the mean of the features' (feature-std). */
  value: number;
  /** feature-std: each feature's standard deviation (the attacks' per-feature `scale`). */
  perFeature?: Float32Array;
}

/** The standard deviation of all input values of `ds` (every feature of every example pooled). */
export function dataStd(ds: Dataset): number {
  const x = ds.x;
  if (x.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const mean = sum / x.length;
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += (x[i] - mean) ** 2;
  return Math.sqrt(sq / x.length);
}

/** The scale of ε in `units` on `ds`. */
export function epsScale(ds: Dataset, units: EpsUnits): EpsScale {
  if (units === 'absolute') return { units, value: 1 };
  if (units === 'data-std') return { units, value: dataStd(ds) };
  const perFeature = featureStats(ds).std;
  const value = perFeature.length ? perFeature.reduce((a, b) => a + b, 0) / perFeature.length : 0;
  return { units, value, perFeature };
}
