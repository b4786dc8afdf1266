import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../shared/src/data/dataset.ts';
import { dataStd, epsScale } from '../../shared/src/robustness/eps-scale.ts';

// ε's units computed by hand on small datasets (the fast tests `npm run mutation -- eps-scale` runs).
const ds = (x: number[], featureShape: number[]): Dataset => {
  const f = featureShape.reduce((a, b) => a * b, 1);
  return { x: Float32Array.from(x), y: new Int32Array(f === 0 ? 2 : x.length / f), featureShape, numClasses: 2 };
};

/** Population standard deviation in float64. */
const std = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
};

describe('dataStd', () => {
  it.each<[string, number[]]>([
    ['a constant dataset', [0.4, 0.4, 0.4, 0.4]],
    ['two values', [0, 1]],
    ['values off zero (the mean matters)', [2, 4, 4, 4, 5, 5, 7, 9]],
    ['negative values', [-3, -1, -1, 5]],
    ['one value', [0.7]],
  ])('is the population standard deviation of every input value pooled: %s', (_, v) => {
    expect(dataStd(ds(v, [1]))).toBeCloseTo(std(v), 6);
    expect(dataStd(ds(v, [1]))).not.toBeNaN();
  });

  it('pools every feature of every example (not per feature)', () => {
    expect(dataStd(ds([0, 10, 2, 10], [2]))).toBeCloseTo(std([0, 10, 2, 10]), 6);
    expect(dataStd(ds([2, 4, 4, 4, 5, 5, 7, 9], [2, 2]))).toBe(2);
  });

  it('is 0 on an empty dataset (not NaN)', () => {
    expect(dataStd(ds([], [3]))).toBe(0);
  });
});

describe('epsScale', () => {
  const d = ds([0, 10, 2, 10, 4, 13], [2]);

  it('absolute: 1, and no per-feature scale', () => {
    expect(epsScale(d, 'absolute')).toStrictEqual({ units: 'absolute', value: 1 });
  });

  it('data-std: the pooled standard deviation, and no per-feature scale', () => {
    const s = epsScale(d, 'data-std');
    expect(Object.keys(s).sort()).toEqual(['units', 'value']);
    expect(s.units).toBe('data-std');
    expect(s.value).toBeCloseTo(std([0, 10, 2, 10, 4, 13]), 5);
  });

  it('feature-std: each feature\'s standard deviation, and their mean as the value', () => {
    const s = epsScale(d, 'feature-std');
    expect(s.units).toBe('feature-std');
    expect(Array.from(s.perFeature!)).toEqual([expect.closeTo(std([0, 2, 4]), 5), expect.closeTo(std([10, 10, 13]), 5)]);
    expect(s.value).toBeCloseTo((std([0, 2, 4]) + std([10, 10, 13])) / 2, 5);
    const three = epsScale(ds([0, 1, 0, 2, 3, 0], [3]), 'feature-std');
    expect(three.value).toBeCloseTo((1 + 1 + 0) / 3, 6);
  });

  it('feature-std of inputs with no features: value 0 (not NaN)', () => {
    const s = epsScale(ds([], [0]), 'feature-std');
    expect(s.value).toBe(0);
    expect(s.perFeature).toHaveLength(0);
  });
});
