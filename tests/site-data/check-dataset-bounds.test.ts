import { describe, expect, it } from 'vitest';
import { checkDataset, duplicateIndices } from '../../shared/src/data/check-dataset.ts';
import type { Dataset } from '../../shared/src/data/dataset.ts';

// The data check at more edges (mutation module site-data): two-feature rows that hash alike and share their first
// byte, values exactly on the robust range's ends, and a model checked against no examples at all.
const rows = (x: number[][], y: number[], numClasses = Math.max(1, ...y.map((v) => v + 1))): Dataset => ({ x: Float32Array.from(x.flat()), y: Int32Array.from(y), featureShape: [x[0]?.length ?? 2], numClasses });

describe('checkDataset: more edges', () => {
  it('two different rows of two features with one FNV-1a hash and the same first byte are not duplicates', () => {
    // Both rows' 8 bytes hash to 0xf636e2f2, and both begin with byte 0x00: only the whole rows tell them apart.
    const a = [6.7073974609375, 6.653956890106201];
    const b = [6.923583984375, 3.9103944301605225];
    const ds = rows([a, b, a], [0, 0, 1]);
    expect(duplicateIndices(ds)).toEqual([]);
    const report = checkDataset(ds);
    expect(report.duplicates).toEqual({ count: 0, indices: [] });
    expect(report.conflictingDuplicates).toEqual({ count: 2, indices: [0, 2] });
  });

  it('values exactly 3 IQRs below the first quartile or above the third are inside the robust range', () => {
    // Sorted: −3 0 0 0.5 0.5 1 1 4 → quartiles 0 and 1, IQR 1, robust range [−3, 4].
    const report = checkDataset(rows([[-3], [0], [0], [0.5], [0.5], [1], [1], [4]], [0, 1, 0, 1, 0, 1, 0, 1]));
    expect(report.outsideRobustRange).toEqual({ count: 0, examples: { count: 0, indices: [] }, features: { count: 0, indices: [] } });
    const beyond = checkDataset(rows([[-3.01], [0], [0], [0.5], [0.5], [1], [1], [4.01]], [0, 1, 0, 1, 0, 1, 0, 1]));
    expect(beyond.outsideRobustRange).toEqual({ count: 2, examples: { count: 2, indices: [0, 7] }, features: { count: 1, indices: [0] } });
  });

  it('no examples against a one-class model of the same width: it fits (no label is beyond its classes)', () => {
    const report = checkDataset({ x: new Float32Array(0), y: new Int32Array(0), featureShape: [2], numClasses: 1 }, { model: { inputShape: [2], numClasses: 1 } });
    expect(report.model).toEqual({ expectedFeatures: 2, fits: true });
    expect(report.examples).toBe(0);
    expect(report.labels).toEqual({ counts: [0], imbalanceRatio: 0, emptyClasses: [0] });
  });
});
