import { FedtuneError } from '../errors.ts';
import { SeededRandom } from '../random/seeded-random.ts';

/** Labeled examples held as flat typed arrays: `x` is n × prod(featureShape), `y` holds class indices. */
export interface Dataset {
  x: Float32Array;
  y: Int32Array;
  featureShape: number[];
  numClasses: number;
}

export function datasetSize(ds: Dataset): number {
  return ds.y.length;
}

export function featureSize(ds: Pick<Dataset, 'featureShape'>): number {
  return ds.featureShape.reduce((a, b) => a * b, 1);
}

export function validateDataset(ds: Dataset): void {
  const f = featureSize(ds);
  if (ds.x.length !== ds.y.length * f) {
    throw new FedtuneError('data', `dataset has ${ds.y.length} labels but ${ds.x.length} feature values (expected ${ds.y.length * f})`);
  }
  for (let i = 0; i < ds.y.length; i++) {
    const label = ds.y[i];
    if (label < 0 || label >= ds.numClasses) throw new FedtuneError('data', `example ${i} has label ${label}, outside 0..${ds.numClasses - 1}`);
  }
}

/** The examples at `indices`, copied into a new dataset in that order. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const f = featureSize(ds);
  const x = new Float32Array(indices.length * f);
  const y = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    x.set(ds.x.subarray(i * f, (i + 1) * f), k * f);
    y[k] = ds.y[i];
  }
  return { x, y, featureShape: [...ds.featureShape], numClasses: ds.numClasses };
}

export function concatDatasets(parts: Dataset[]): Dataset {
  if (parts.length === 0) throw new FedtuneError('data', 'nothing to concatenate');
  const n = parts.reduce((s, p) => s + p.y.length, 0);
  const f = featureSize(parts[0]);
  const x = new Float32Array(n * f);
  const y = new Int32Array(n);
  let pos = 0;
  for (const p of parts) {
    x.set(p.x, pos * f);
    y.set(p.y, pos);
    pos += p.y.length;
  }
  return { x, y, featureShape: [...parts[0].featureShape], numClasses: parts[0].numClasses };
}

export interface Splits {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
}

/** Seeded train/validation/test split (fractions of validation and test; the rest trains). */
export function splitDataset(ds: Dataset, seed: number, validation = 0.1, test = 0.1): Splits {
  const n = datasetSize(ds);
  const order = new SeededRandom(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const nTest = Math.round(n * test);
  const nVal = Math.round(n * validation);
  return {
    test: subset(ds, order.slice(0, nTest)),
    validation: subset(ds, order.slice(nTest, nTest + nVal)),
    train: subset(ds, order.slice(nTest + nVal)),
  };
}

export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const label of ds.y) counts[label]++;
  return counts;
}
