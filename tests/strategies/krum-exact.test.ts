import { describe, expect, it } from 'vitest';
import { aggregateBulyan, BULYAN_DEFAULTS, bulyan, bulyanSelection } from '../../shared/src/strategies/aggregate-bulyan.ts';
import {
  aggregateKrum,
  completeByzantineCount,
  krum,
  KRUM_DEFAULTS,
  krumRanking,
  krumScores,
  rankByScore,
  requireKrumQuorum,
} from '../../shared/src/strategies/aggregate-krum.ts';
import { aggregateMultiKrum, multiKrum, MULTIKRUM_DEFAULTS } from '../../shared/src/strategies/aggregate-multikrum.ts';
import { pairwiseSquaredDistances } from '../../shared/src/strategies/strategy-math.ts';
import { weightedAverage } from '../../shared/src/strategies/aggregate-fedavg.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { f32, list, rows } from './helpers.ts';

// One coordinate per site: a 0, b 1, c 3, d 10, e 11. Squared distances:
//   a: b 1, c 9, d 100, e 121      b: a 1, c 4, d 81, e 100      c: a 9, b 4, d 49, e 64
//   d: a 100, b 81, c 49, e 1      e: a 121, b 100, c 64, d 1
// f = 1 → each score sums the n − f − 2 = 2 nearest: a 10, b 5, c 13, d 50, e 65 → Krum picks b.
// f = 0 → the 3 nearest: a 110, b 86, c 62, d 131, e 165 → Krum picks c.
const line = () => rows([[0], [1], [3], [10], [11]]);
const dist = () => pairwiseSquaredDistances(line().map((u) => u.weights));

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toMatchObject({ code: 'config' });
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

describe('Krum on a hand-made set', () => {
  it('scores by the n − f − 2 nearest squared distances, at least 1 and at most all the others', () => {
    expect(Array.from(krumScores(dist(), 5, [0, 1, 2, 3, 4], 1))).toEqual([10, 5, 13, 50, 65]);
    expect(Array.from(krumScores(dist(), 5, [0, 1, 2, 3, 4], 0))).toEqual([110, 86, 62, 131, 165]);
    expect(Array.from(krumScores(dist(), 5, [0, 1, 2, 3, 4], 2))).toEqual([1, 1, 4, 1, 1]);
    expect(Array.from(krumScores(dist(), 5, [0, 2, 4], 0))).toEqual([9, 9, 64]); // 3 − 0 − 2 = 1 neighbour
    expect(Array.from(krumScores(dist(), 5, [3, 4], 0))).toEqual([1, 1]); // max(1, 0) = 1
    expect(Array.from(krumScores(dist(), 5, [2], 0))).toEqual([0]); // no other member
    expect(Array.from(krumScores(dist(), 5, [0, 1, 2, 3], 5))).toEqual([1, 1, 4, 49]);
  });

  it('ranks by score, ties by site id, then by position', () => {
    expect(rankByScore(Float64Array.from([1, 1, 0]), ['b', 'a', 'c'])).toEqual([2, 1, 0]);
    expect(rankByScore(Float64Array.from([2, 1, 1]), ['a', 'c', 'b'])).toEqual([2, 1, 0]);
    expect(rankByScore(Float64Array.from([1, 1]), ['x', 'x'])).toEqual([0, 1]);
    expect(krumRanking(line(), 1)).toEqual([1, 0, 2, 3, 4]);
    expect(krumRanking(line(), 0)).toEqual([2, 1, 0, 3, 4]);
  });

  it('returns a copy of the chosen update: b with f = 1, c with f = 0, whatever the order of arrival or the counts', () => {
    const u = line();
    const out = aggregateKrum([f32(0)], u, { f: 1 });
    expect(list(out)).toEqual([[1]]);
    expect(out[0]).not.toBe(u[1].weights[0]);
    expect(list(aggregateKrum([f32(0)], line(), { f: 0 }))).toEqual([[3]]);
    expect(list(aggregateKrum([f32(0)], line()))).toEqual([[3]]);
    const shuffled = [4, 2, 0, 3, 1].map((k) => ({ ...line()[k], numExamples: 1000 * k + 1 }));
    expect(list(aggregateKrum([f32(0)], shuffled, { f: 1 }))).toEqual([[1]]);
  });

  it('needs n > 2f + 2 and an integer f ≥ 0, saying so', () => {
    expect(configError(() => aggregateKrum([f32(0)], line().slice(0, 4), { f: 1 }))).toBe('krum: needs more than 2f + 2 = 4 updates to tolerate f = 1 byzantine sites, got 4');
    expect(() => requireKrumQuorum('krum', 5, 1)).not.toThrow();
    expect(configError(() => requireKrumQuorum('x', 2, 0))).toBe('x: needs more than 2f + 2 = 2 updates to tolerate f = 0 byzantine sites, got 2');
    expect(configError(() => aggregateKrum([f32(0)], line(), { f: -1 }))).toBe('krum: option f must be ≥ 0, got -1');
    expect(configError(() => aggregateKrum([f32(0)], line(), { f: 0.5 }))).toBe('krum: option f must be an integer, got 0.5');
    expect(configError(() => krum.initialState({ f: -1 }))).toBe('krum: option f must be ≥ 0, got -1');
    expect(krum.initialState({ f: 1 })).toBeNull();
    expect(KRUM_DEFAULTS).toEqual({ f: 0 });
  });

  it('takes f from the expected number of malicious sites only when f is not given', () => {
    expect(completeByzantineCount(undefined, { expectedMaliciousSites: 2 })).toEqual({ f: 2 });
    expect(completeByzantineCount<{ f?: number; m?: number }>({ m: 3 }, { expectedMaliciousSites: 1 })).toEqual({ m: 3, f: 1 });
    expect(completeByzantineCount({ f: 0 }, { expectedMaliciousSites: 2 })).toEqual({ f: 0 });
    expect(completeByzantineCount({}, {})).toEqual({});
    expect(completeByzantineCount(undefined, {})).toEqual({});
    for (const s of [krum, multiKrum, bulyan]) expect(s.completeOptions).toBe(completeByzantineCount);
    const r = krum.aggregate([f32(0)], line(), null, { f: 1 });
    expect(list(r.weights)).toEqual([[1]]);
    expect(r.state).toBeNull();
  });
});

describe('Multi-Krum on the same set', () => {
  it('averages the m best (uniformly, counts ignored); m defaults to n − f', () => {
    const heavy = line().map((u, k) => ({ ...u, numExamples: 10 ** k }));
    expect(list(aggregateMultiKrum([f32(0)], heavy, { f: 1 }))).toEqual([[(1 + 0 + 3 + 10) / 4]]);
    expect(list(aggregateMultiKrum([f32(0)], heavy, { f: 1, m: 2 }))).toEqual([[0.5]]);
    expect(list(aggregateMultiKrum([f32(0)], heavy, { f: 1, m: 1 }))).toEqual([[1]]);
    expect(list(aggregateMultiKrum([f32(0)], heavy, { f: 0, m: 3 }))).toEqual([[Math.fround((3 + 1 + 0) / 3)]]);
    expect(list(aggregateMultiKrum([f32(0)], heavy))).toEqual([[25 / 5]]);
    const r = multiKrum.aggregate([f32(0)], heavy, null, { f: 1, m: 2 });
    expect(list(r.weights)).toEqual([[0.5]]);
    expect(r.state).toBeNull();
  });

  it('refuses m outside 1 … n − f, n ≤ 2f + 2 and bad f, saying which', () => {
    expect(configError(() => aggregateMultiKrum([f32(0)], line(), { f: 1, m: 5 }))).toBe('multikrum: m = 5 exceeds n − f = 4 (n = 5 updates, f = 1)');
    expect(list(aggregateMultiKrum([f32(0)], line(), { f: 1, m: 4 }))).toEqual([[3.5]]);
    expect(configError(() => aggregateMultiKrum([f32(0)], line(), { f: 1, m: 0 }))).toBe('multikrum: option m must be ≥ 1, got 0');
    expect(configError(() => aggregateMultiKrum([f32(0)], line(), { f: 1, m: 1.5 }))).toBe('multikrum: option m must be an integer, got 1.5');
    expect(configError(() => aggregateMultiKrum([f32(0)], line(), { f: 2 }))).toBe('multikrum: needs more than 2f + 2 = 6 updates to tolerate f = 2 byzantine sites, got 5');
    expect(configError(() => multiKrum.initialState({ f: -2 }))).toBe('multikrum: option f must be ≥ 0, got -2');
    expect(multiKrum.initialState({ m: 2 })).toBeNull();
    expect(MULTIKRUM_DEFAULTS).toEqual({ f: 0, m: null });
  });
});

describe('Bulyan on hand-made sets', () => {
  it('selects θ = n − 2f by Krum on what remains, then averages the β = θ − 2f values nearest the median', () => {
    // f = 1, n = 7 with two far values: θ = 5 selected (never ±1000: the last pick is a tie in score, which the
    // smaller site id wins), β = 3 nearest the median.
    const u = rows([[0], [1], [2], [4], [7], [1000], [-1000]]);
    expect(bulyanSelection(u, 1).sort()).toEqual([0, 1, 2, 3, 4]);
    // Selected 0 1 2 4 7: median 2; nearest three are 2, 1 then (0 at 2, 4 at 2: tie to the lower side) 0 → 1.
    expect(list(aggregateBulyan([f32(0)], u, { f: 1 }))).toEqual([[1]]);
    // f = 0: a plain mean of all.
    expect(list(aggregateBulyan([f32(0)], rows([[1], [2], [6]]), { f: 0 }))).toEqual([[3]]);
    expect(list(aggregateBulyan([f32(0)], rows([[1], [2], [6]])))).toEqual([[3]]);
  });

  it('even θ: the window starts between the two middle values and grows towards the closer side', () => {
    // f = 1, n = 8 → θ = 6, β = 4. Selected (the 6 nearest each other): 0 1 2 3 5 9 is not it — see the selection.
    const u = rows([[0], [1], [2], [3], [5], [9], [500], [-500]]);
    const sel = bulyanSelection(u, 1);
    expect(sel).toHaveLength(6);
    expect([...sel].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // Sorted 0 1 2 3 5 9, median 2.5: window 2, 3, then 1 (1.5 away) vs 5 (2.5): 1, then 0 (2.5) vs 5 (2.5): tie → 0.
    expect(list(aggregateBulyan([f32(0)], u, { f: 1 }))).toEqual([[1.5]]);
  });

  it('odd θ grows to the upper side when it is closer', () => {
    // f = 1, n = 7 → θ = 5, β = 3: selected 0 4 5 6 10 (not ±1000), median 5: 5, then 4 (1) vs 6 (1): tie → 4, then 6 (1) vs 0 (5) → 6.
    const u = rows([[0], [4], [5], [6], [10], [1000], [-1000]]);
    expect(list(aggregateBulyan([f32(0)], u, { f: 1 }))).toEqual([[5]]);
    const up = rows([[0], [3], [5], [6], [7], [1000], [-1000]]);
    // sorted 0 3 5 6 7, median 5: 5, then 6 (1) vs 3 (2) → 6, then 7 (2) vs 3 (2): tie → 3 → (5 + 6 + 3) / 3.
    expect(list(aggregateBulyan([f32(0)], up, { f: 1 }))).toEqual([[Math.fround(14 / 3)]]);
  });

  it('works per coordinate and per tensor', () => {
    const u = [[0, 10], [1, 11], [2, 12], [4, 14], [100, -100], [7, 17], [-100, 100]].map((v, k) => ({ siteId: `s${k}`, weights: [f32(v[0]), f32(v[1])], numExamples: 1 }));
    expect(list(aggregateBulyan([f32(0), f32(0)], u, { f: 1 }))).toEqual([[1], [11]]);
  });

  it('needs n ≥ 4f + 3 and an integer f ≥ 0, saying so', () => {
    const six = rows([[0], [1], [2], [3], [4], [5]]);
    expect(configError(() => aggregateBulyan([f32(0)], six, { f: 1 }))).toBe('bulyan: needs at least 4f + 3 = 7 updates to tolerate f = 1 byzantine sites, got 6');
    expect(configError(() => aggregateBulyan([f32(0)], six, { f: 0.5 }))).toBe('bulyan: option f must be an integer, got 0.5');
    expect(configError(() => bulyan.initialState({ f: -1 }))).toBe('bulyan: option f must be ≥ 0, got -1');
    expect(bulyan.initialState({ f: 1 })).toBeNull();
    expect(BULYAN_DEFAULTS).toEqual({ f: 0 });
    const r = bulyan.aggregate([f32(0)], rows([[1], [2], [6]]), null, {});
    expect(list(r.weights)).toEqual([[3]]);
    expect(r.state).toBeNull();
  });
});

describe('Krum family: ties, order and names', () => {
  const at = (ids: string[], values: number[]) => ids.map((siteId, k) => ({ siteId, weights: [f32(values[k])], numExamples: 1 }));

  it('score ties go to the smaller site id, not the earlier position', () => {
    expect(rankByScore(Float64Array.from([1, 1, 1, 1, 1, 1]), ['d', 'f', 'b', 'e', 'a', 'c'])).toEqual([4, 2, 5, 0, 3, 1]);
    expect(rankByScore(Float64Array.from([1, 1]), ['b', 'a'])).toEqual([1, 0]);
    expect(krumRanking(at(['b', 'a'], [0, 1]), 0)).toEqual([1, 0]);
    expect(bulyanSelection(at(['c', 'b', 'a'], [0, 1, 2]), 0)).toEqual([2, 1, 0]);
    expect(bulyanSelection(at(['c', 'b', 'a'], [0, 1, 0.5]), 0)).toEqual([2, 1, 0]);
  });

  it('Multi-Krum averages the chosen updates in site-id order (the float32 rounding shows it)', () => {
    // By id: a, b (±2^25) cancel in the first pass of four; in Krum's order (the small ones first) they would not.
    const big = 2 ** 25;
    const values = [big, -big, 0.1, 0.2, 0.3].map(Math.fround);
    const u = at(['a', 'b', 'c', 'd', 'e'], values);
    const first = Math.fround(0.2 * values[0] + 0.2 * values[1] + 0.2 * values[2] + 0.2 * values[3]);
    const expected = Math.fround(first + 0.2 * values[4]);
    expect(list(aggregateMultiKrum([f32(0)], u, { f: 0 }))).toEqual([[expected]]);
    expect(list(aggregateMultiKrum([f32(0)], [u[3], u[1], u[4], u[0], u[2]], { f: 0 }))).toEqual([[expected]]);
  });

  it('unknown options are refused naming the strategy; names and references', () => {
    expect(configError(() => aggregateKrum([f32(0)], line(), { g: 1 } as never))).toBe('krum: unknown option "g" (known: f)');
    expect(configError(() => aggregateMultiKrum([f32(0)], line(), { g: 1 } as never))).toBe('multikrum: unknown option "g" (known: f, m)');
    expect(configError(() => aggregateBulyan([f32(0)], line(), { g: 1 } as never))).toBe('bulyan: unknown option "g" (known: f)');
    expect([krum.name, multiKrum.name, bulyan.name]).toEqual(['krum', 'multikrum', 'bulyan']);
    expect(krum.reference).toBe('Blanchard et al. 2017, Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent');
    expect(multiKrum.reference).toBe('Blanchard et al. 2017, Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent (Multi-Krum)');
    expect(bulyan.reference).toBe('El Mhamdi, Guerraoui, Rouault 2018, The Hidden Vulnerability of Distributed Learning in Byzantium');
    expect(completeByzantineCount(undefined, {})).toStrictEqual({});
    expect(completeByzantineCount<{ f?: number; m?: number }>({ m: 2 }, {})).toStrictEqual({ m: 2 });
  });

  it('Bulyan states its quorum for any f, and an even θ window that grows unevenly', () => {
    const ten = rows(Array.from({ length: 10 }, (_, k) => [k]));
    expect(configError(() => aggregateBulyan([f32(0)], ten, { f: 2 }))).toBe('bulyan: needs at least 4f + 3 = 11 updates to tolerate f = 2 byzantine sites, got 10');
    // f = 1, n = 8 → θ = 6, β = 4. Selected 0 10 11 12 13 30, median 11.5: 11 (tie, lower), 12, 10 (tie), then 13 → 11.5.
    const u = rows([[0], [10], [11], [12], [13], [30], [1000], [-1000]]);
    expect([...bulyanSelection(u, 1)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(list(aggregateBulyan([f32(0)], u, { f: 1 }))).toEqual([[11.5]]);
  });
});

describe('Krum family: order at scale, quorums, and Bulyan on a second coordinate', () => {
  // 100 entries: V8 sorts runs of up to 64 by insertion and then merges them, comparing in both directions.
  const shuffledIds = (n: number, seed: number) => new SeededRandom(seed).shuffle(Array.from({ length: n }, (_, k) => `site-${String(k).padStart(3, '0')}`));

  it('score ties among 100 updates go to the smaller site id (the comparator holds in both directions)', () => {
    const ids = shuffledIds(100, 5);
    const bySiteId = Array.from({ length: 100 }, (_, k) => k).sort((a, b) => (ids[a] < ids[b] ? -1 : 1));
    expect(rankByScore(new Float64Array(100), ids)).toEqual(bySiteId);
    // Equal ids keep their positions.
    expect(rankByScore(new Float64Array(100), Array.from({ length: 100 }, () => 'same'))).toEqual(Array.from({ length: 100 }, (_, k) => k));
  });

  it('Multi-Krum over 80 updates: the average is summed in site-id order whatever the order of arrival (bit for bit)', () => {
    const rng = new SeededRandom(9);
    // Values over eight orders of magnitude: the float32 sum shows any change of order.
    const values = Array.from({ length: 80 }, () => Float32Array.from({ length: 6 }, () => rng.normal() * 10 ** Math.floor(rng.next() * 8)));
    const ids = shuffledIds(80, 3);
    const arrived = values.map((weights, k) => ({ siteId: ids[k]!, weights: [weights], numExamples: 1 + k }));
    const inIdOrder = [...arrived].sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
    const expected = weightedAverage([new Float32Array(6)], inIdOrder.map((u) => ({ weights: u.weights, numExamples: 1 })));
    // The order matters to the float32 sum (else this test could not see an order change).
    expect(list(weightedAverage([new Float32Array(6)], arrived.map((u) => ({ weights: u.weights, numExamples: 1 }))))).not.toEqual(list(expected));
    expect(list(aggregateMultiKrum([new Float32Array(6)], arrived, { f: 0 }))).toEqual(list(expected));
    expect(list(aggregateMultiKrum([new Float32Array(6)], [...arrived].reverse(), { f: 0 }))).toEqual(list(expected));
    // Equal site ids (not from a round, which has one update per site): the order of arrival.
    const same = arrived.map((u) => ({ ...u, siteId: 'same' }));
    expect(list(aggregateMultiKrum([new Float32Array(6)], same, { f: 0 }))).toEqual(list(weightedAverage([new Float32Array(6)], same.map((u) => ({ weights: u.weights, numExamples: 1 })))));
  });

  it('states the quorum each needs: 2f + 3 for Krum and Multi-Krum, 4f + 3 for Bulyan', () => {
    expect([0, 1, 2, 5].map((f) => krum.minimumUpdates!({ f }))).toEqual([3, 5, 7, 13]);
    expect([0, 1, 2, 5].map((f) => multiKrum.minimumUpdates!({ f }))).toEqual([3, 5, 7, 13]);
    expect([0, 1, 2, 5].map((f) => bulyan.minimumUpdates!({ f }))).toEqual([3, 7, 11, 23]);
    expect([krum, multiKrum, bulyan].map((s) => s.minimumUpdates!({}))).toEqual([2 * KRUM_DEFAULTS.f + 3, 2 * MULTIKRUM_DEFAULTS.f + 3, 4 * BULYAN_DEFAULTS.f + 3]);
  });

  it('Bulyan with an even θ on two coordinates: each coordinate has its own median and window', () => {
    // f = 1, n = 8 → θ = 6, β = 4; the ±1000 updates are not selected.
    const u = rows([[0, 6], [10, 1], [11, 8], [12, 2], [13, 9], [30, 7], [1000, 1000], [-1000, -1000]]);
    expect([...bulyanSelection(u, 1)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    // Coordinate 0: 0 10 11 12 13 30, median 11.5 → 11, 12, 10, 13 → 11.5.
    // Coordinate 1: 1 2 6 7 8 9, median 6.5 → 6 (tie, lower), 7, 8, 9 → 7.5 (a median read from another
    // coordinate's column would pull the window down to the small values).
    expect(list(aggregateBulyan([f32(0, 0)], u, { f: 1 }))).toEqual([[11.5, 7.5]]);
  });

  it('Bulyan with an even θ need not keep the upper middle value: ties go to the lower side all the way', () => {
    // f = 2, n = 12 → θ = 8, β = 4. Selected 0 0 0 0 3 5 5 5, median 1.5: the four zeros (each tie with 3 goes lower).
    const u = rows([[0], [0], [0], [0], [3], [5], [5], [5], [1000], [-1000], [2000], [-2000]]);
    expect([...bulyanSelection(u, 2)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(list(aggregateBulyan([f32(0)], u, { f: 2 }))).toEqual([[0]]);
  });
});
