import { describe, expect, it } from 'vitest';
import { FedtuneError } from '../shared/src/errors.ts';
import { aggregateFedAvg } from '../shared/src/strategies/aggregate-fedavg.ts';
import { getStrategy } from '../shared/src/strategies/registry.ts';

const f = (...v: number[]) => new Float32Array(v);

describe('FedAvg', () => {
  it('weights each site by its number of examples', () => {
    const global = [f(0, 0), f(0)];
    const out = aggregateFedAvg(global, [
      { siteId: 'a', weights: [f(1, 2), f(10)], numExamples: 1 },
      { siteId: 'b', weights: [f(3, 6), f(20)], numExamples: 3 },
    ]);
    expect(Array.from(out[0])).toEqual([2.5, 5]);
    expect(Array.from(out[1])).toEqual([17.5]);
  });

  it('matches a float64 reference for many updates (all unrolled paths)', () => {
    for (const k of [1, 2, 3, 4, 5, 6, 7, 9]) {
      const n = 257;
      const updates = Array.from({ length: k }, (_, j) => ({
        siteId: `s${j}`,
        weights: [Float32Array.from({ length: n }, (_, i) => Math.sin(i * (j + 1)))],
        numExamples: j + 1,
      }));
      const total = updates.reduce((s, u) => s + u.numExamples, 0);
      const out = aggregateFedAvg([new Float32Array(n)], updates)[0];
      for (let i = 0; i < n; i++) {
        const ref = updates.reduce((s, u) => s + (u.numExamples / total) * u.weights[0][i], 0);
        expect(out[i]).toBeCloseTo(ref, 5);
      }
    }
  });

  it('does not mutate its inputs and returns new arrays', () => {
    const u = { siteId: 'a', weights: [f(1, 2)], numExamples: 2 };
    const global = [f(0, 0)];
    const out = aggregateFedAvg(global, [u]);
    expect(Array.from(u.weights[0])).toEqual([1, 2]);
    expect(out[0]).not.toBe(u.weights[0]);
    expect(Array.from(global[0])).toEqual([0, 0]);
  });

  it('rejects mismatched shapes, bad counts and empty input with typed errors', () => {
    const global = [f(0, 0)];
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof FedtuneError ? e.code : 'untyped';
      }
      return 'no error';
    };
    expect(code(() => aggregateFedAvg(global, [{ siteId: 'a', weights: [f(1, 2, 3)], numExamples: 1 }]))).toBe('shape_mismatch');
    expect(code(() => aggregateFedAvg(global, [{ siteId: 'a', weights: [f(1, 2), f(1)], numExamples: 1 }]))).toBe('shape_mismatch');
    expect(code(() => aggregateFedAvg(global, [{ siteId: 'a', weights: [f(1, 2)], numExamples: 0 }]))).toBe('invalid_count');
    expect(code(() => aggregateFedAvg(global, [{ siteId: 'a', weights: [f(1, 2)], numExamples: 1.5 }]))).toBe('invalid_count');
    expect(code(() => aggregateFedAvg(global, [{ siteId: 'a', weights: [f(1, 2)], numExamples: NaN }]))).toBe('invalid_count');
    expect(code(() => aggregateFedAvg(global, []))).toBe('no_updates');
  });

  it('is registered as the "fedavg" strategy and passes state through', () => {
    const s = getStrategy('fedavg');
    const r = s.aggregate([f(0)], [{ siteId: 'a', weights: [f(4)], numExamples: 1 }], s.initialState({}), {});
    expect(Array.from(r.weights[0])).toEqual([4]);
    expect(() => getStrategy('nope')).toThrow(/unknown strategy/);
    // Object's own names are not strategies; a long name is quoted as its first 120 characters.
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) expect(() => getStrategy(name)).toThrow(`unknown strategy "${name}" (known: fedavg, `);
    expect(() => getStrategy('x'.repeat(5000))).toThrow(`unknown strategy "${'x'.repeat(120)}… (4880 more characters)" (known: fedavg, `);
  });
});

describe('FedAvg as a Strategy object', () => {
  it('has no options: unknown ones are refused at the start and at every aggregation, naming fedavg', () => {
    const s = getStrategy('fedavg');
    expect(s.name).toBe('fedavg');
    expect(s.reference).toBe('McMahan et al. 2017, Communication-Efficient Learning of Deep Networks from Decentralized Data');
    expect(s.initialState({})).toBeNull();
    expect(() => s.initialState({ mu: 1 } as never)).toThrow(expect.objectContaining({ code: 'config', message: 'fedavg: unknown option "mu" (known: none)' }));
    expect(() => s.aggregate([f(0)], [{ siteId: 'a', weights: [f(4)], numExamples: 1 }], null, { lr: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'config', message: 'fedavg: unknown option "lr" (known: none)' }),
    );
  });

  it('weights by examples exactly over five sites (one full pass of four, then one more)', () => {
    const counts = [1, 2, 3, 4, 6];
    const u = counts.map((n, k) => ({ siteId: `s${k}`, weights: [f(k * 16, -k * 16)], numExamples: n }));
    // Σ n_k · 16k / 16 = (0 + 2 + 6 + 12 + 24) = 44 → 44 · 16 / 16 = 44.
    expect(Array.from(aggregateFedAvg([f(0, 0)], u)[0])).toEqual([44, -44]);
  });
});
