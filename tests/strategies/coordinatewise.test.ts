import { describe, expect, it } from 'vitest';
import { aggregateFedMedian, FEDMEDIAN_DEFAULTS, fedMedian } from '../../shared/src/strategies/aggregate-fedmedian.ts';
import { aggregateFedTrimmedAvg, FEDTRIMMEDAVG_DEFAULTS, fedTrimmedAvg, trimmedCount } from '../../shared/src/strategies/aggregate-fedtrimmedavg.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { errorCode, f32, list, rows, upd } from './helpers.ts';

describe('FedMedian', () => {
  it('takes the middle value per coordinate for odd n', () => {
    const out = aggregateFedMedian([f32(0, 0, 0)], rows([[3, -1, 7], [1, 5, 7], [2, 0, -7]]));
    expect(list(out)).toEqual([[2, 0, 7]]);
  });

  it('averages the two middle values for even n', () => {
    const out = aggregateFedMedian([f32(0, 0)], rows([[4, 1], [1, 2], [3, 10], [2, 20]]));
    expect(list(out)).toEqual([[2.5, 6]]);
  });

  it('ignores example counts and works per tensor', () => {
    const g = [f32(0), f32(0, 0)];
    const out = aggregateFedMedian(g, [upd('a', [f32(1), f32(1, 9)], 1000), upd('b', [f32(2), f32(2, 8)], 1), upd('c', [f32(3), f32(3, 7)], 1)]);
    expect(list(out)).toEqual([[2], [2, 8]]);
  });

  it('matches a sort-based reference for n above the insertion-sort cutoff', () => {
    const rng = new SeededRandom(3);
    const n = 41;
    const values = Array.from({ length: n }, () => Array.from({ length: 17 }, () => rng.normal()));
    const out = aggregateFedMedian([new Float32Array(17)], rows(values))[0];
    for (let i = 0; i < 17; i++) {
      const col = values.map((v) => Math.fround(v[i])).sort((a, b) => a - b);
      expect(out[i]).toBe(Math.fround(col[20]));
    }
  });
});

describe('FedTrimmedAvg', () => {
  it('drops ⌊βn⌋ values on each side and averages the rest', () => {
    // n = 5, β = 0.2: one dropped each side.
    const out = aggregateFedTrimmedAvg([f32(0, 0)], rows([[1, -50], [2, 1], [3, 2], [4, 3], [100, 4]]), { beta: 0.2 });
    expect(list(out)).toEqual([[3, 2]]);
  });

  it('is the unweighted mean at β = 0 and the median-pair mean at β = 0.25 with 4 updates', () => {
    const u = rows([[1], [2], [4], [9]], [1, 5, 5, 1]);
    expect(list(aggregateFedTrimmedAvg([f32(0)], u, { beta: 0 }))).toEqual([[4]]);
    expect(list(aggregateFedTrimmedAvg([f32(0)], u, { beta: 0.25 }))).toEqual([[3]]);
  });

  it('counts trimmed values with a floor', () => {
    expect(trimmedCount(10, 0.2)).toBe(2);
    expect(trimmedCount(9, 0.2)).toBe(1);
    expect(trimmedCount(4, 0.2)).toBe(0);
    expect(FEDTRIMMEDAVG_DEFAULTS.beta).toBe(0.2);
  });

  it('rejects β outside [0, 0.5) with a config error', () => {
    const u = rows([[1], [2], [3]]);
    for (const beta of [0.5, -0.1, 0.7, Number.NaN]) expect(errorCode(() => aggregateFedTrimmedAvg([f32(0)], u, { beta }))).toBe('config');
  });
});

describe('coordinate-wise strategies as Strategy objects', () => {
  it('FedMedian: no options (unknown ones refused), null state, the median', () => {
    expect(fedMedian.name).toBe('fedmedian');
    expect(fedMedian.reference).toMatch(/^Yin et al\. 2018/);
    expect(fedMedian.initialState({})).toBeNull();
    expect(() => fedMedian.initialState({ beta: 1 } as never)).toThrow(expect.objectContaining({ code: 'config', message: 'fedmedian: unknown option "beta" (known: none)' }));
    expect(() => fedMedian.aggregate([f32(0)], rows([[1]]), null, { x: 1 } as never)).toThrow(expect.objectContaining({ code: 'config' }));
    const r = fedMedian.aggregate([f32(0)], rows([[1], [5], [2]]), null, {});
    expect(list(r.weights)).toEqual([[2]]);
    expect(r.state).toBeNull();
    expect(FEDMEDIAN_DEFAULTS).toEqual({});
    // One update is its own median; two average.
    expect(list(aggregateFedMedian([f32(0)], rows([[7]])))).toEqual([[7]]);
    expect(list(aggregateFedMedian([f32(0)], rows([[7], [-3]])))).toEqual([[2]]);
  });

  it('FedTrimmedAvg: β = 0.2 by default, [0, 0.5) enforced with a message, null state', () => {
    const u = rows([[1], [2], [3], [4], [100]]);
    expect(list(aggregateFedTrimmedAvg([f32(0)], u))).toEqual([[3]]);
    expect(list(aggregateFedTrimmedAvg([f32(0)], u, { beta: 0.4999 }))).toEqual([[3]]);
    expect(list(aggregateFedTrimmedAvg([f32(0)], u, { beta: 0.1999 }))).toEqual([[22]]);
    expect(() => aggregateFedTrimmedAvg([f32(0)], u, { beta: 0.5 })).toThrow(expect.objectContaining({ code: 'config', message: 'fedtrimmedavg: option beta must be < 0.5, got 0.5' }));
    expect(() => aggregateFedTrimmedAvg([f32(0)], u, { beta: -0.1 })).toThrow(expect.objectContaining({ message: 'fedtrimmedavg: option beta must be ≥ 0, got -0.1' }));
    expect(fedTrimmedAvg.name).toBe('fedtrimmedavg');
    expect(fedTrimmedAvg.reference).toMatch(/trimmed mean/);
    expect(fedTrimmedAvg.initialState({ beta: 0.1 })).toBeNull();
    expect(() => fedTrimmedAvg.initialState({ beta: 0.6 })).toThrow(expect.objectContaining({ code: 'config' }));
    const r = fedTrimmedAvg.aggregate([f32(0)], u, null, { beta: 0 });
    expect(list(r.weights)).toEqual([[22]]);
    expect(r.state).toBeNull();
    // Per tensor, and across a block of coordinates.
    const len = 600;
    const many = [0, 1, 2, 3, 4].map((k) => ({ siteId: `s${k}`, weights: [f32(k), Float32Array.from({ length: len }, (_, i) => (k === 4 ? 1e6 : k + i))], numExamples: 1 }));
    const out = aggregateFedTrimmedAvg([f32(0), new Float32Array(len)], many, { beta: 0.2 });
    expect(list(out)[0]).toEqual([2]);
    expect(Array.from(out[1])).toEqual(Array.from({ length: len }, (_, i) => 2 + i));
  });
});

describe('coordinate-wise strategies against a sort-based reference (the pruned sorting networks keep what they need)', () => {
  // Random values with ties (rounded to quarters), every n from 2 to 40: a network pruned to the wrong
  // positions leaves some of them unsorted for some n and coordinate.
  const rng = new SeededRandom(17);
  // Never ±0 (the two zeros compare equal, so a network may return either).
  const columns = (n: number, width: number) => Array.from({ length: n }, () => Array.from({ length: width }, () => Math.round(rng.normal() * 8) / 4 + 0.125));
  const sortedColumn = (values: number[][], i: number) => values.map((v) => Math.fround(v[i]!)).sort((a, b) => a - b);

  it('FedMedian: the middle value, or the mean of the two middle ones, for every n from 2 to 40', () => {
    for (let n = 2; n <= 40; n++) {
      const values = columns(n, 24);
      const out = aggregateFedMedian([new Float32Array(24)], rows(values))[0]!;
      const h = n >> 1;
      for (let i = 0; i < 24; i++) {
        const col = sortedColumn(values, i);
        expect([n, i, out[i]]).toEqual([n, i, n % 2 ? col[h] : Math.fround(0.5 * (col[h - 1]! + col[h]!))]);
      }
    }
  });

  it('FedTrimmedAvg: the mean of the sorted values left after ⌊βn⌋ on each side, for every n from 2 to 40 and several β', () => {
    for (const beta of [0.1, 0.2, 0.3, 0.45]) {
      for (let n = 2; n <= 40; n++) {
        const values = columns(n, 12);
        const out = aggregateFedTrimmedAvg([new Float32Array(12)], rows(values), { beta })[0]!;
        const k = Math.floor(beta * n);
        for (let i = 0; i < 12; i++) {
          const col = sortedColumn(values, i);
          let s = 0;
          for (let p = k; p < n - k; p++) s += col[p]!;
          expect([beta, n, i, out[i]]).toEqual([beta, n, i, Math.fround(s * (1 / (n - 2 * k)))]);
        }
      }
    }
  });

  it('unknown options are refused naming the strategy, in aggregate as in initialState', () => {
    expect(() => fedMedian.aggregate([f32(0)], rows([[1]]), null, { x: 1 } as never)).toThrow(expect.objectContaining({ code: 'config', message: 'fedmedian: unknown option "x" (known: none)' }));
    expect(() => aggregateFedTrimmedAvg([f32(0)], rows([[1]]), { x: 1 } as never)).toThrow(expect.objectContaining({ code: 'config', message: 'fedtrimmedavg: unknown option "x" (known: beta)' }));
  });
});
