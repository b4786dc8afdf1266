import { describe, expect, it } from 'vitest';
import { checkDataset, duplicateIndices } from '../../shared/src/data/check-dataset.ts';
import type { Dataset } from '../../shared/src/data/dataset.ts';

// The data check at its edges (mutation module site-data): two rows whose bytes hash alike but differ, a feature
// constant over two examples, a feature whose quartiles coincide (no spread to judge outliers by), a low outlier, a
// feature whose last value is its smallest, and labels the class count does not hold.
const dataset = (columns: number[][], y: number[], numClasses = Math.max(...y) + 1): Dataset => {
  const n = y.length;
  const f = columns.length;
  const x = new Float32Array(n * f);
  columns.forEach((column, j) => column.forEach((v, i) => (x[i * f + j] = v)));
  return { x, y: Int32Array.from(y), featureShape: [f], numClasses };
};

describe('checkDataset: edges', () => {
  it('two different rows whose bytes share an FNV-1a hash are neither duplicates nor conflicting', () => {
    // float32 617.0142822265625 and 413.40496826171875: the same 32-bit FNV-1a of their 4 bytes (0x183311d9).
    const ds = dataset([[617.0142822265625, 413.40496826171875, 617.0142822265625]], [0, 1, 0]);
    expect(duplicateIndices(ds)).toEqual([2]);
    const report = checkDataset(ds);
    expect(report.duplicates).toEqual({ count: 1, indices: [2] });
    expect(report.conflictingDuplicates).toEqual({ count: 0, indices: [] });
  });

  it('a feature with one value over two examples is constant; over one example it is not judged', () => {
    expect(checkDataset(dataset([[3, 3], [1, 2]], [0, 1])).constantFeatures).toEqual({ count: 1, indices: [0] });
    expect(checkDataset(dataset([[3], [1]], [0])).constantFeatures).toEqual({ count: 0, indices: [] });
  });

  it('a feature whose last value is its smallest is not constant', () => {
    expect(checkDataset(dataset([[5, 4, 3]], [0, 1, 0])).constantFeatures).toEqual({ count: 0, indices: [] });
  });

  it('no spread between the quartiles: no value is judged an outlier by it', () => {
    const report = checkDataset(dataset([[1, 1, 1, 1, 1, 1, 1, 5]], [0, 1, 0, 1, 0, 1, 0, 1]));
    expect(report.outsideRobustRange).toEqual({ count: 0, examples: { count: 0, indices: [] }, features: { count: 0, indices: [] } });
  });

  it('a value far below the quartiles is an outlier as one far above is', () => {
    const report = checkDataset(dataset([[-100, 1, 2, 3, 4, 5, 6, 7]], [0, 1, 0, 1, 0, 1, 0, 1]));
    expect(report.outsideRobustRange).toEqual({ count: 1, examples: { count: 1, indices: [0] }, features: { count: 1, indices: [0] } });
  });

  it('the expected range is inclusive at both ends', () => {
    const report = checkDataset(dataset([[0, 1, 1.5, -0.5]], [0, 1, 0, 1]), { expectedRange: [0, 1] });
    expect(report.outsideExpectedRange).toEqual({ range: [0, 1], count: 2, examples: { count: 2, indices: [2, 3] } });
  });

  it('labels outside the classes are not counted into a class (nor grow the counts)', () => {
    const report = checkDataset(dataset([[1, 2, 3, 4]], [0, 1, 2, -1], 2));
    expect(report.labels.counts).toEqual([1, 1]);
    expect(report.labels.emptyClasses).toEqual([]);
  });
});
