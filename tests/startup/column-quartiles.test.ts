import { describe, expect, it } from 'vitest';
import { checkDataset, duplicateIndices, ROBUST_RANGE_IQRS, type Dataset } from '@fedtune/shared';
import { quantileUnsorted, selectKth } from '../../shared/src/data/column-quartiles.ts';
import { mulberry32 } from '../helpers/mulberry32.ts';

/** The implementation checkDataset used before (a full sort, then interpolation). */
function sortedQuantile(values: Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}


function column(rand: () => number, m: number, kind: number): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const r = rand();
    if (kind === 0) out[i] = r * 100 - 50;
    else if (kind === 1) out[i] = Math.floor(r * 4); // many ties
    else if (kind === 2) out[i] = r < 0.1 ? (r < 0.05 ? Infinity : -Infinity) : r < 0.3 ? -0 : r < 0.5 ? 0 : r; // infinities, signed zeros
    else out[i] = i; // already sorted
  }
  if (kind === 3 && rand() < 0.5) out.reverse();
  return out;
}

const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

describe('quartiles by selection equal those of a full sort', () => {
  it('selectKth gives the k-th smallest for every k of small arrays with ties', () => {
    const rand = mulberry32(1);
    for (let trial = 0; trial < 200; trial++) {
      const m = 1 + Math.floor(rand() * 12);
      const values = column(rand, m, trial % 4);
      const sorted = Float64Array.from(values).sort();
      for (let k = 0; k < m; k++) {
        const copy = Float64Array.from(values);
        expect(selectKth(copy, m, k) === sorted[k], `m=${m} k=${k} ${values.join(',')}`).toBe(true);
        for (let i = 0; i < k; i++) expect(copy[i] <= copy[k]).toBe(true);
        for (let i = k + 1; i < m; i++) expect(copy[i] >= copy[k]).toBe(true);
      }
    }
  });

  it.each([0, 0.25, 0.5, 0.75, 1, 0.1, 0.9])('quantile %s of 400 random columns (sizes 1–300, ties, ±0, ±∞, sorted and reversed)', (q) => {
    const rand = mulberry32(Math.round(q * 1000) + 7);
    for (let trial = 0; trial < 400; trial++) {
      const m = 1 + Math.floor(rand() * 300);
      const values = column(rand, m, trial % 4);
      const padded = new Float64Array(m + 5).fill(12345); // only [0, m) counts
      padded.set(values);
      const got = quantileUnsorted(padded, m, q);
      const want = sortedQuantile(values, q);
      expect(same(got, want), `q=${q} m=${m}: ${got} vs ${want}`).toBe(true);
    }
  });

  it('checkDataset: the same robust-range and constant findings as quartiles from a sort, and duplicates as duplicateIndices', () => {
    const rand = mulberry32(42);
    for (let trial = 0; trial < 30; trial++) {
      const n = 2 + Math.floor(rand() * 120);
      const f = 1 + Math.floor(rand() * 6);
      const x = new Float32Array(n * f);
      for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) {
        const r = rand();
        x[i * f + j] = j === 0 ? 3 : r < 0.05 ? NaN : r < 0.1 ? 1000 * (r - 0.07) : r < 0.3 ? Math.floor(r * 10) : r;
      }
      // A few copied rows (duplicates, some with another label).
      for (let k = 0; k < 3 && n > 4; k++) x.copyWithin((n - 1 - k) * f, k * f, (k + 1) * f);
      const y = Int32Array.from({ length: n }, () => Math.floor(rand() * 3));
      const ds = { x, y, featureShape: [f], numClasses: 3 } as unknown as Dataset;
      const report = checkDataset(ds);
      // Reference: quartiles by sorting, as before.
      let count = 0;
      const features: number[] = [];
      const constant: number[] = [];
      for (let j = 0; j < f; j++) {
        const present = Float64Array.from(Array.from({ length: n }, (_, i) => x[i * f + j]).filter((v) => !Number.isNaN(v)));
        if (present.length === 0) continue;
        const sorted = Float64Array.from(present).sort();
        if (sorted[0] === sorted[sorted.length - 1]) {
          constant.push(j);
          continue;
        }
        const q1 = sortedQuantile(present, 0.25);
        const q3 = sortedQuantile(present, 0.75);
        const iqr = q3 - q1;
        if (!(iqr > 0)) continue;
        let here = 0;
        for (let i = 0; i < n; i++) if (x[i * f + j] < q1 - ROBUST_RANGE_IQRS * iqr || x[i * f + j] > q3 + ROBUST_RANGE_IQRS * iqr) here++;
        count += here;
        if (here > 0) features.push(j);
      }
      expect(report.outsideRobustRange!.count).toBe(count);
      expect(report.outsideRobustRange!.features.indices).toEqual(features.slice(0, 10));
      expect(report.constantFeatures.indices).toEqual(constant.slice(0, 10));
      expect(report.duplicates.count).toBe(duplicateIndices(ds).length);
    }
  });
});
