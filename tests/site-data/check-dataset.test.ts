import { describe, expect, it } from 'vitest';
import {
  applyImputation,
  balanceClasses,
  checkDataset,
  classCounts,
  dropDuplicates,
  fitImputation,
  formatDataCheck,
  MAX_LISTED_INDICES,
  prepareSiteSplits,
  type Dataset,
} from '@fedtune/shared';

/**
 * 3 features, 12 examples with planted findings (values chosen so none of them is also an index or count):
 * - example 4 repeats example 0 exactly; example 7 repeats example 1 exactly (2 duplicates);
 * - example 9 has example 2's features with another label (conflicting: examples 2 and 9);
 * - examples 5 and 8 miss feature 1 (NaN), example 8 also feature 0 (3 missing values in 2 examples);
 * - feature 2 is constant (7.25 everywhere);
 * - example 10's feature 0 is 987.5, far outside its robust range and outside [0, 1].
 */
function planted(): Dataset {
  const rows: Array<[number, number, number, number]> = [
    [0.11, 0.21, 7.25, 0],
    [0.12, 0.22, 7.25, 0],
    [0.13, 0.23, 7.25, 1],
    [0.14, 0.24, 7.25, 0],
    [0.11, 0.21, 7.25, 0], // dup of 0
    [0.15, NaN, 7.25, 0],
    [0.16, 0.26, 7.25, 0],
    [0.12, 0.22, 7.25, 0], // dup of 1
    [NaN, NaN, 7.25, 0],
    [0.13, 0.23, 7.25, 0], // conflicts with 2
    [987.5, 0.27, 7.25, 0],
    [0.17, 0.28, 7.25, 2],
  ];
  return { x: Float32Array.from(rows.flatMap((r) => r.slice(0, 3))), y: Int32Array.from(rows.map((r) => r[3])), featureShape: [3], numClasses: 4 };
}

describe('checkDataset finds what was planted, exactly', () => {
  const report = checkDataset(planted(), { expectedRange: [0, 1], model: { inputShape: [3], numClasses: 4 } });
  it('duplicates and conflicting duplicates', () => {
    expect(report.duplicates).toEqual({ count: 2, indices: [4, 7] });
    expect(report.conflictingDuplicates).toEqual({ count: 2, indices: [2, 9] });
  });
  it('missing values', () => {
    expect(report.missing).toEqual({ count: 3, examples: { count: 2, indices: [5, 8] }, features: { count: 2, indices: [0, 1] } });
  });
  it('constant features', () => expect(report.constantFeatures).toEqual({ count: 1, indices: [2] }));
  it('out of the expected range and of the robust range', () => {
    // Feature 2 (7.25) is outside [0, 1] in all 12 examples, feature 0 of example 10 too.
    expect(report.outsideExpectedRange).toEqual({ range: [0, 1], count: 13, examples: { count: 12, indices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] } });
    expect(report.outsideRobustRange).toEqual({ count: 1, examples: { count: 1, indices: [10] }, features: { count: 1, indices: [0] } });
  });
  it('label distribution, imbalance ratio and empty classes', () => {
    expect(report.labels).toEqual({ counts: [10, 1, 1, 0], imbalanceRatio: 10, emptyClasses: [3] });
  });
  it('shape and model fit', () => {
    expect(report).toMatchObject({ examples: 12, features: 3, featureShape: [3], model: { expectedFeatures: 3, fits: true } });
    expect(report.model!.reason).toBeUndefined();
  });
  it.each([
    ['a different feature count', { inputShape: [4], numClasses: 4 }, 'the data has 3 features per example, the model expects 4'],
    ['an unknown dimension counts as 1', { inputShape: [null, 3], numClasses: 4 }, undefined],
    ['fewer classes than the labels', { inputShape: [3], numClasses: 2 }, 'the data has labels up to 2, the model outputs 2 classes'],
  ])('against a model with %s', (_name, model, reason) => {
    const r = checkDataset(planted(), { model });
    expect(r.model!.fits).toBe(reason === undefined);
    expect(r.model!.reason).toBe(reason);
  });
  it('clean data: nothing found; no expected range → no range finding', () => {
    const clean: Dataset = { x: Float32Array.from([0.1, 0.5, 0.2, 0.6, 0.3, 0.7, 0.4, 0.8]), y: Int32Array.from([0, 1, 0, 1]), featureShape: [2], numClasses: 2 };
    const r = checkDataset(clean);
    expect(r.duplicates.count + r.conflictingDuplicates.count + r.missing.count + r.constantFeatures.count + r.outsideRobustRange!.count).toBe(0);
    expect(r.outsideExpectedRange).toBeUndefined();
    expect(r.model).toBeUndefined();
    expect(r.labels).toEqual({ counts: [2, 2], imbalanceRatio: 1, emptyClasses: [] });
  });
  it('a value exactly on the expected range bounds is inside it', () => {
    const edge: Dataset = { x: Float32Array.from([0, 1, 1.0001, -0.0001]), y: Int32Array.from([0, 1, 0, 1]), featureShape: [1], numClasses: 2 };
    expect(checkDataset(edge, { expectedRange: [0, 1] }).outsideExpectedRange).toMatchObject({ count: 2, examples: { indices: [2, 3] } });
  });
  it('image pixels (options.pixels): no robust range — absent from the report, one line saying it was not checked', () => {
    const make = (last: number): Dataset => ({ x: Float32Array.from([0, 1, 2, 3, 4, 5, 6, last]), y: new Int32Array(8), featureShape: [1], numClasses: 1 });
    const report = checkDataset(make(16), { pixels: true });
    expect(report.outsideRobustRange).toBeUndefined();
    expect(formatDataCheck(report)).toContain("  far outside their feature's own range: not checked for image pixels (a stroke is rare at any one pixel)");
    expect(formatDataCheck(checkDataset(make(16)))).toContain("  far outside their feature's own range: 1 values in 1 examples (examples 7), 1 features (features 0)");
    // Everything else is checked as before.
    expect(checkDataset(make(16), { pixels: true, expectedRange: [0, 1] }).outsideExpectedRange).toMatchObject({ count: 6 });
  });
  it('robust range: exactly at 3 IQRs beyond the quartile is inside, a little beyond is outside', () => {
    // values 0..7 (8 examples): q1 = 1.75, q3 = 5.25, IQR = 3.5 → upper bound 5.25 + 10.5 = 15.75.
    const make = (last: number): Dataset => ({ x: Float32Array.from([0, 1, 2, 3, 4, 5, 6, last]), y: new Int32Array(8), featureShape: [1], numClasses: 1 });
    expect(checkDataset(make(15.75)).outsideRobustRange!.count).toBe(0);
    // The quartiles do not depend on the largest value here, so the bound stays 15.75.
    expect(checkDataset(make(16)).outsideRobustRange).toMatchObject({ count: 1, examples: { indices: [7] } });
  });
  it('lists at most MAX_LISTED_INDICES indices but counts all', () => {
    const n = 30;
    const ds: Dataset = { x: new Float32Array(n).fill(0.5), y: new Int32Array(n), featureShape: [1], numClasses: 1 };
    const r = checkDataset(ds);
    expect(r.duplicates.count).toBe(n - 1);
    expect(r.duplicates.indices).toEqual(Array.from({ length: MAX_LISTED_INDICES }, (_, i) => i + 1));
    expect(formatDataCheck(r).join('\n')).toMatch(/duplicates: 29 exact \(examples 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …\)/);
  });
  it('a single example has no constant features (nothing to compare)', () => {
    expect(checkDataset({ x: Float32Array.from([3, 3]), y: Int32Array.from([0]), featureShape: [2], numClasses: 1 }).constantFeatures.count).toBe(0);
  });
});

describe('the report holds counts and indices, never raw values', () => {
  it('no feature value appears in its text or JSON', () => {
    const ds = planted();
    const report = checkDataset(ds, { expectedRange: [0, 1] });
    const text = formatDataCheck(report).join('\n');
    const json = JSON.stringify(report);
    for (const v of [0.11, 0.21, 7.25, 987.5, 0.13, 0.27]) {
      for (const form of [String(v), String(Math.fround(v)), v.toFixed(2)]) {
        expect(text).not.toContain(form);
        expect(json).not.toContain(form);
      }
    }
  });
  it('the text lines say what was found', () => {
    const lines = formatDataCheck(checkDataset(planted(), { expectedRange: [0, 1], model: { inputShape: [4], numClasses: 4 } }));
    expect(lines).toEqual([
      'data check: 12 examples, 3 features per example (shape [3])',
      '  duplicates: 2 exact (examples 4, 7); 2 with the same features but different labels (examples 2, 9)',
      '  missing values: 3 in 2 examples (examples 5, 8), 2 features (features 0, 1)',
      '  constant features: 1 (features 2)',
      "  outside the model's input range [0, 1]: 13 values in 12 examples (examples 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …)",
      "  far outside their feature's own range: 1 values in 1 examples (examples 10), 1 features (features 0)",
      '  labels: [10,1,1,0] per class; imbalance 10.00 (largest / smallest class); no examples of class 3',
      '  model: does not fit: the data has 3 features per example, the model expects 4',
    ]);
  });
});

describe('preparing the data', () => {
  it('dropDuplicates keeps first copies in order; conflicting examples stay', () => {
    const { dataset, dropped } = dropDuplicates(planted());
    expect(dropped).toBe(2);
    expect(dataset.y.length).toBe(10);
    expect(checkDataset(dataset).duplicates.count).toBe(0);
    expect(checkDataset(dataset).conflictingDuplicates.count).toBe(2);
    expect(Array.from(dataset.x.subarray(0, 3))).toEqual(Array.from(planted().x.subarray(0, 3)));
    const clean = { x: Float32Array.from([1, 2]), y: Int32Array.from([0, 1]), featureShape: [1], numClasses: 2 };
    expect(dropDuplicates(clean)).toEqual({ dataset: clean, dropped: 0 });
  });
  it.each([
    ['mean', [2, 20]],
    ['median', [1.5, 20]],
    ['zero', [0, 0]],
  ] as const)('impute %s: fitted on the train split only', (method, fill) => {
    // train feature 0: 0, 1, 2, 5 (mean 2, median 1.5); feature 1: 20, NaN, 20, 20.
    const train: Dataset = { x: Float32Array.from([0, 20, 1, NaN, 2, 20, 5, 20]), y: new Int32Array(4), featureShape: [2], numClasses: 1 };
    expect(Array.from(fitImputation(train, method))).toEqual(fill);
    const test: Dataset = { x: Float32Array.from([NaN, NaN, 1000, 1000]), y: new Int32Array(2), featureShape: [2], numClasses: 1 };
    const splits = prepareSiteSplits({ train, validation: test, test }, { impute: method, classWeights: 'none', seed: 1 });
    expect(Array.from(splits.test.x)).toEqual([...fill, 1000, 1000]);
    expect(Array.from(splits.train.x)).toEqual([0, 20, 1, fill[1], 2, 20, 5, 20]);
    expect(applyImputation(test, fitImputation(train, method)).imputed).toBe(2);
  });
  it('a feature with no value in the train split is imputed with 0', () => {
    const train: Dataset = { x: Float32Array.from([NaN, NaN]), y: new Int32Array(2), featureShape: [1], numClasses: 1 };
    expect(Array.from(fitImputation(train, 'mean'))).toEqual([0]);
    expect(Array.from(fitImputation(train, 'median'))).toEqual([0]);
  });
  it('median of an odd count is the middle value', () => {
    const train: Dataset = { x: Float32Array.from([9, 1, 4]), y: new Int32Array(3), featureShape: [1], numClasses: 1 };
    expect(Array.from(fitImputation(train, 'median'))).toEqual([4]);
  });
  it('balanced class weights: the same number of train examples, equal class shares; validation and test untouched', () => {
    const n = 100;
    const y = Int32Array.from({ length: n }, (_, i) => (i < 90 ? 0 : i < 97 ? 1 : 2));
    const train: Dataset = { x: Float32Array.from({ length: n }, (_, i) => i), y, featureShape: [1], numClasses: 3 };
    const balanced = balanceClasses(train, 7);
    expect(balanced.y.length).toBe(n);
    expect(classCounts(balanced)).toEqual([34, 33, 33]);
    // Every example drawn is a real example with its own label.
    for (let i = 0; i < n; i++) expect(y[balanced.x[i]]).toBe(balanced.y[i]);
    // All 3 minority examples of class 2 are used (cycled), and 34 distinct majority ones.
    expect(new Set(Array.from(balanced.x).filter((v) => v >= 97)).size).toBe(3);
    expect(new Set(Array.from(balanced.x).filter((v) => v < 90)).size).toBe(34);
    expect(balanceClasses(train, 7)).toEqual(balanced);
    const splits = prepareSiteSplits({ train, validation: train, test: train }, { impute: 'none', classWeights: 'balanced', seed: 7 });
    expect(classCounts(splits.train)).toEqual([34, 33, 33]);
    expect(splits.test).toBe(train);
    expect(splits.validation).toBe(train);
    const none = prepareSiteSplits({ train, validation: train, test: train }, { impute: 'none', classWeights: 'none', seed: 7 });
    expect(none.train).toBe(train);
  });
  it('one class only: nothing to balance', () => {
    const one: Dataset = { x: Float32Array.from([1, 2]), y: Int32Array.from([0, 0]), featureShape: [1], numClasses: 2 };
    expect(balanceClasses(one, 1)).toBe(one);
  });
});
