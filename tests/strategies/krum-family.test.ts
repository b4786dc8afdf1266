import { describe, expect, it } from 'vitest';
import { aggregateBulyan, bulyanSelection } from '../../shared/src/strategies/aggregate-bulyan.ts';
import { aggregateKrum } from '../../shared/src/strategies/aggregate-krum.ts';
import { aggregateMultiKrum } from '../../shared/src/strategies/aggregate-multikrum.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import type { WeightedUpdate } from '../../shared/src/strategies/strategy.ts';
import { errorCode, f32, list, rows } from './helpers.ts';

// Squared distances: ab 1, ac 4, ad 2, bc 5, bd 1, cd 2, e far. With f = 1, n = 5, each score sums the
// 2 nearest: a 3, b 2, c 6, d 3, e huge.
const square = (): WeightedUpdate[] => rows([[0, 0], [1, 0], [0, 2], [1, 1], [100, 100]]);

describe('Krum', () => {
  it('picks the update with the lowest score, as a copy', () => {
    const u = square();
    const out = aggregateKrum([f32(0, 0)], u, { f: 1 });
    expect(list(out)).toEqual([[1, 0]]);
    expect(out[0]).not.toBe(u[1].weights[0]);
  });

  it('picks from the honest cluster when f attackers send far-away vectors', () => {
    const rng = new SeededRandom(5);
    const honest = Array.from({ length: 7 }, () => [10 + 0.1 * rng.normal(), -3 + 0.1 * rng.normal()]);
    const out = aggregateKrum([f32(0, 0)], rows([...honest, [1e4, 1e4], [-1e4, 5e3]]), { f: 2 })[0];
    expect(Math.hypot(out[0] - 10, out[1] + 3)).toBeLessThan(0.5);
  });

  it('needs n > 2f + 2', () => {
    const u = rows([[0], [1], [2], [3]]);
    expect(errorCode(() => aggregateKrum([f32(0)], u, { f: 1 }))).toBe('config');
    expect(() => aggregateKrum([f32(0)], u, { f: 1 })).toThrow(/more than 2f \+ 2 = 4 updates.*got 4/);
    expect(errorCode(() => aggregateKrum([f32(0)], [...u, ...rows([[4]]).map((x) => ({ ...x, siteId: 'z' }))], { f: 1 }))).toBe('no error');
    expect(errorCode(() => aggregateKrum([f32(0)], u, { f: -1 }))).toBe('config');
    expect(errorCode(() => aggregateKrum([f32(0)], u, { f: 0.5 }))).toBe('config');
  });
});

describe('Multi-Krum', () => {
  it('averages the m best-scored updates uniformly; score ties go to the smaller site id', () => {
    // Ranking b (2), then a and d tie at 3 → a first.
    expect(list(aggregateMultiKrum([f32(0, 0)], square(), { f: 1, m: 2 }))).toEqual([[0.5, 0]]);
    const three = aggregateMultiKrum([f32(0, 0)], square(), { f: 1, m: 3 })[0];
    expect(three[0]).toBeCloseTo(2 / 3, 6);
    expect(three[1]).toBeCloseTo(1 / 3, 6);
  });

  it('with m = 1 is Krum, and by default averages n − f', () => {
    expect(list(aggregateMultiKrum([f32(0, 0)], square(), { f: 1, m: 1 }))).toEqual(list(aggregateKrum([f32(0, 0)], square(), { f: 1 })));
    const all = aggregateMultiKrum([f32(0, 0)], square(), { f: 1 })[0]; // a b c d
    expect(Array.from(all)).toEqual([0.5, 0.75]);
  });

  it('rejects m outside 1 … n − f and n ≤ 2f + 2', () => {
    expect(errorCode(() => aggregateMultiKrum([f32(0, 0)], square(), { f: 1, m: 5 }))).toBe('config');
    expect(errorCode(() => aggregateMultiKrum([f32(0, 0)], square(), { f: 1, m: 0 }))).toBe('config');
    expect(errorCode(() => aggregateMultiKrum([f32(0, 0)], square(), { f: 2 }))).toBe('config');
  });
});

/** Bulyan written the obvious way (argsort by distance to the median), for comparison on random input. */
function referenceBulyan(selected: number[][], f: number): number[] {
  const theta = selected.length;
  const beta = theta - 2 * f;
  return selected[0].map((_, i) => {
    const col = selected.map((v) => v[i]).sort((a, b) => a - b);
    const med = theta % 2 ? col[(theta - 1) / 2] : (col[theta / 2 - 1] + col[theta / 2]) / 2;
    const closest = [...col].sort((a, b) => Math.abs(a - med) - Math.abs(b - med)).slice(0, beta);
    return closest.reduce((s, v) => s + v, 0) / beta;
  });
}

describe('Bulyan', () => {
  it('selects θ = n − 2f by repeated Krum and averages the β = θ − 2f values closest to the median', () => {
    // 1-D, f = 1, n = 7: recursive Krum selects 2, 3, 1, 4, 0 (never the attacker at 1000);
    // sorted 0 1 2 3 4, median 2, the 3 closest are 2, 1, 3 → 2.
    const u = rows([[0], [1], [2], [3], [4], [5], [1000]]);
    expect(bulyanSelection(u, 1)).toEqual([2, 3, 1, 4, 0]);
    expect(list(aggregateBulyan([f32(0)], u, { f: 1 }))).toEqual([[2]]);
  });

  it('matches an argsort reference on random input', () => {
    const rng = new SeededRandom(11);
    const values = Array.from({ length: 11 }, () => Array.from({ length: 9 }, () => rng.normal()));
    const u = rows(values);
    for (const f of [0, 1, 2]) {
      const sel = bulyanSelection(u, f).map((k) => Array.from(u[k].weights[0], Number));
      const expected = referenceBulyan(sel, f);
      const out = aggregateBulyan([new Float32Array(9)], u, { f })[0];
      for (let i = 0; i < 9; i++) expect(out[i]).toBeCloseTo(expected[i], 6);
    }
  });

  it('needs n ≥ 4f + 3', () => {
    const u6 = rows([[0], [1], [2], [3], [4], [5]]);
    expect(errorCode(() => aggregateBulyan([f32(0)], u6, { f: 1 }))).toBe('config');
    expect(() => aggregateBulyan([f32(0)], u6, { f: 1 })).toThrow(/at least 4f \+ 3 = 7 updates.*got 6/);
    expect(errorCode(() => aggregateBulyan([f32(0)], rows([[0], [1], [2], [3], [4], [5], [6]]), { f: 1 }))).toBe('no error');
    expect(errorCode(() => aggregateBulyan([f32(0)], u6, { f: -1 }))).toBe('config');
  });
});
