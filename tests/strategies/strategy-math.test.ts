import { describe, expect, it } from 'vitest';
import {
  addSquaredDistances,
  addWeightedDeltas,
  checkRound,
  checkStateLayout,
  exampleShares,
  pairwiseSquaredDistances,
  SORT_BLOCK,
  sortedCoordinates,
  sortingNetwork,
  tensorColumns,
} from '../../shared/src/strategies/strategy-math.ts';
import { errorCode, f32 } from './helpers.ts';

// Small integers and halves throughout: every sum below is exact in float64, so results are asserted exactly.

describe('strategy math: the shared loops, exactly', () => {
  it('tensorColumns takes tensor t of every update, in order, without copying', () => {
    const a = [f32(1), f32(2, 3)];
    const b = [f32(4), f32(5, 6)];
    const cols = tensorColumns([{ weights: a }, { weights: b }], 1);
    expect(cols).toHaveLength(2);
    expect(cols[0]).toBe(a[1]);
    expect(cols[1]).toBe(b[1]);
  });

  it('exampleShares: each count over the total', () => {
    expect(Array.from(exampleShares([{ numExamples: 1 }, { numExamples: 3 }, { numExamples: 4 }]))).toEqual([0.125, 0.375, 0.5]);
    expect(Array.from(exampleShares([{ numExamples: 7 }]))).toEqual([1]);
  });

  it('addWeightedDeltas: offset + Σ c_k (col_k − base), four at a time and the rest, skipping zero coefficients', () => {
    for (const count of [1, 2, 3, 4, 5, 7, 8, 9]) {
      const n = 5;
      const base = Float64Array.from({ length: n }, (_, i) => i - 2);
      const offset = Float64Array.from({ length: n }, (_, i) => 10 * i);
      const cols = Array.from({ length: count }, (_, k) => Float32Array.from({ length: n }, (_, i) => (k + 1) * (i + 1) - k));
      const coeffs = Float64Array.from({ length: count }, (_, k) => (k % 3 === 1 ? 0 : (k + 1) / 2));
      const expected = Array.from({ length: n }, (_, i) => offset[i] + cols.reduce((s, c, k) => s + coeffs[k] * (c[i] - base[i]), 0));
      const out = new Float32Array(n).fill(99);
      addWeightedDeltas(out, base, cols, coeffs, offset);
      expect(Array.from(out), `${count} updates`).toEqual(expected);
      // The offset defaults to the base.
      const out2 = new Float32Array(n);
      addWeightedDeltas(out2, base, cols, coeffs);
      expect(Array.from(out2), `${count} updates, no offset`).toEqual(expected.map((v, i) => v - offset[i] + base[i]));
    }
  });

  it('addWeightedDeltas: a zero coefficient leaves out a non-finite column entirely', () => {
    const out = new Float32Array(2);
    addWeightedDeltas(out, f32(1, 1), [f32(3, 5), f32(Number.NaN, Infinity), f32(2, 2), f32(1, 1), f32(0, 0)], Float64Array.from([0.5, 0, 0.5, 1, 0]));
    expect(Array.from(out)).toEqual([1 + 1 + 0.5 + 0, 1 + 2 + 0.5 + 0]);
  });

  it('addSquaredDistances adds ‖col_k − base‖² into sums[k], for odd and even lengths', () => {
    const sums = Float64Array.from([100, 0]);
    addSquaredDistances(sums, [f32(1, 2, 3), f32(0, 0, 0)], f32(1, 0, 1));
    expect(Array.from(sums)).toEqual([100 + 0 + 4 + 4, 1 + 0 + 1]);
    const even = new Float64Array(1);
    addSquaredDistances(even, [f32(3, -1, 2, 5)], f32(0, 1, 0, 1));
    expect(even[0]).toBe(9 + 4 + 4 + 16);
    const one = new Float64Array(1);
    addSquaredDistances(one, [f32(-3)], f32(1));
    expect(one[0]).toBe(16);
  });

  it('pairwiseSquaredDistances: the symmetric n×n matrix, zero diagonal, over all tensors and across blocks', () => {
    const len = 2048 + 7; // one full block of 2048 and a tail, with an unrolled part and a remainder in each
    const model = (k: number) => [Float32Array.from({ length: len }, (_, i) => ((i * (k + 1)) % 7) - 3), f32(k, -k, 2 * k)];
    const models = [model(0), model(1), model(2), model(3)];
    const d = pairwiseSquaredDistances(models);
    expect(d).toHaveLength(16);
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        let s = 0;
        for (let t = 0; t < 2; t++) for (let i = 0; i < models[a][t].length; i++) s += (models[a][t][i] - models[b][t][i]) ** 2;
        expect(d[a * 4 + b], `d[${a}][${b}]`).toBe(s);
      }
    }
    expect(Array.from(pairwiseSquaredDistances([[f32(1, 2, 3, 4, 5)], [f32(0, 0, 0, 0, 0)]]))).toEqual([0, 55, 55, 0]);
    expect(pairwiseSquaredDistances([])).toHaveLength(0);
  });

  it('sortedCoordinates hands every block of coordinates, sorted, with its start and length', () => {
    const len = 2 * SORT_BLOCK + 3;
    const cols = [0, 1, 2].map((k) => Float32Array.from({ length: len }, (_, i) => ((i + 2 * k) % 3) - (k === 1 ? 0.5 : 0) * (i % 2 ? -1 : 1)));
    const calls: Array<[number, number]> = [];
    const out = new Float32Array(len);
    sortedCoordinates(cols, out, sortingNetwork(3), (sorted, count, o, start) => {
      calls.push([start, count]);
      for (let i = 0; i < count; i++) o[start + i] = sorted[SORT_BLOCK + i]; // the middle value
    });
    expect(calls).toEqual([
      [0, SORT_BLOCK],
      [SORT_BLOCK, SORT_BLOCK],
      [2 * SORT_BLOCK, 3],
    ]);
    for (let i = 0; i < len; i++) expect(out[i], `coordinate ${i}`).toBe([cols[0][i], cols[1][i], cols[2][i]].sort((a, b) => a - b)[1]);
  });

  it('sortingNetwork: no comparator for one input, one for two, and pairs in order a < b', () => {
    expect(Array.from(sortingNetwork(1))).toEqual([]);
    expect(Array.from(sortingNetwork(2))).toEqual([0, 1]);
    expect(Array.from(sortingNetwork(3))).toEqual([0, 1, 0, 2, 1, 2]);
    expect(Array.from(sortingNetwork(4))).toEqual([0, 1, 2, 3, 0, 2, 1, 3, 1, 2]);
    // The median of three needs every comparator; the minimum of three needs the ones reaching position 0 only.
    expect(Array.from(sortingNetwork(3, [1]))).toEqual([0, 1, 0, 2, 1, 2]);
    expect(Array.from(sortingNetwork(3, [0]))).toEqual([0, 1, 0, 2]);
    expect(Array.from(sortingNetwork(4, [0]))).toEqual([0, 1, 2, 3, 0, 2]);
  });

  it('checkStateLayout refuses another number of tensors or another size, naming the strategy and buffer', () => {
    const g = [f32(0, 0), f32(0)];
    expect(() => checkStateLayout('fedadam', 'm', g, [f32(1, 2), f32(3)])).not.toThrow();
    expect(() => checkStateLayout('fedadam', 'm', g, [f32(1, 2)])).toThrow(
      expect.objectContaining({ code: 'shape_mismatch', message: 'fedadam: state m has 1 tensors, the global model has 2' }),
    );
    expect(() => checkStateLayout('fedadam', 'v', g, null as never)).toThrow(
      expect.objectContaining({ code: 'shape_mismatch', message: 'fedadam: state v has undefined tensors, the global model has 2' }),
    );
    expect(() => checkStateLayout('fedyogi', 'v', g, [f32(1, 2), f32(3, 4)])).toThrow(
      expect.objectContaining({ code: 'shape_mismatch', message: 'fedyogi: state v tensor 1 does not match the global model (1 values)' }),
    );
    expect(errorCode(() => checkStateLayout('x', 'm', g, [f32(1, 2), [3] as never]))).toBe('shape_mismatch');
    expect(errorCode(() => checkStateLayout('x', 'm', g, [new Float64Array(2) as never, f32(3)]))).toBe('shape_mismatch');
  });

  it('checkRound accepts non-negative integers only', () => {
    expect(checkRound('fedavgm', 0)).toBe(0);
    expect(checkRound('fedavgm', 12)).toBe(12);
    for (const bad of [-1, 1.5, '3', Number.NaN, null]) {
      expect(() => checkRound('fedavgm', bad)).toThrow(
        expect.objectContaining({ code: 'config', message: `fedavgm: state round must be a non-negative integer, got ${String(bad)}` }),
      );
    }
  });
});
