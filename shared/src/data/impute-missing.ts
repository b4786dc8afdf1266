import { featureSize, type Dataset } from './dataset.ts';

export type ImputeMethod = 'mean' | 'median' | 'zero';

/**
 * The value each feature's missing entries (NaN) are replaced with, fitted on `train` only: the mean or the
 * median of the feature's present values there, or zero (also for a feature with no present value).
 */
export function fitImputation(train: Dataset, method: ImputeMethod): Float32Array {
  const f = featureSize(train);
  const n = train.y.length;
  const fill = new Float32Array(f);
  if (method === 'zero') return fill;
  const column = new Float64Array(n);
  // Stryker disable next-line EqualityOperator: equivalent: a pass at j = f writes fill[f], outside the array (ignored)
  for (let j = 0; j < f; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = train.x[i * f + j];
      if (!Number.isNaN(v)) column[m++] = v;
    }
    if (m === 0) continue;
    const values = column.subarray(0, m);
    if (method === 'mean') {
      let sum = 0;
      for (const v of values) sum += v;
      fill[j] = sum / m;
    } else {
      values.sort();
      fill[j] = m % 2 ? values[(m - 1) / 2] : (values[m / 2 - 1] + values[m / 2]) / 2;
    }
  }
  return fill;
}

/** A copy of `ds` with each missing value replaced by its feature's `fill`, and how many were replaced. */
export function applyImputation(ds: Dataset, fill: Float32Array): { dataset: Dataset; imputed: number } {
  const f = featureSize(ds);
  const x = ds.x.slice();
  let imputed = 0;
  // Stryker disable next-line EqualityOperator: equivalent: x[x.length] is undefined, not NaN
  for (let k = 0; k < x.length; k++) {
    if (Number.isNaN(x[k])) {
      x[k] = fill[k % f];
      imputed++;
    }
  }
  return { dataset: { ...ds, x }, imputed };
}
