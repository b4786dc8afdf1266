import { describe, expect, it } from 'vitest';
import { SeededRandom, type WeightArrays } from '@fedtune/shared';
import { StreamingFedAvgAggregator } from '../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { RoundCollector } from '../coordinator/src/engine/round-collector.ts';
import { lowerMedian, UpdateGuard } from '../coordinator/src/engine/update-guard.ts';
import { evaluationWeights } from '../coordinator/src/engine/evaluation-collector.ts';

const lengths = [7, 3];
function update(rng: SeededRandom, scale: number): WeightArrays {
  return lengths.map((n) => Float32Array.from({ length: n }, () => scale * rng.normal()));
}

/** A streaming FedAvg aggregator begun on a round. */
function streaming(layout: number[]): StreamingFedAvgAggregator {
  const a = new StreamingFedAvgAggregator(layout);
  a.begin({ runId: 'r', round: 1, attempt: 1, global: layout.map((n) => new Float32Array(n)), strategyState: null, selected: 1 });
  return a;
}

/** Streams `updates` into a collector in the given order under `guard`, settles, and returns the aggregate. */
function aggregate(guard: UpdateGuard, updates: Array<{ siteId: string; weights: WeightArrays; norm: number; n: number }>) {
  const c = new RoundCollector(1, new Set(updates.map((u) => u.siteId)), 60_000);
  const sum = streaming(lengths);
  c.aggregator = sum;
  c.streamBound = guard.streamBound;
  for (const u of updates) {
    c.accept({ siteId: u.siteId, weights: u.weights, numExamples: u.n, effectiveExamples: guard.effectiveExamples(u.n), norm: u.norm, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1, bytes: 0 });
  }
  c.finish();
  const decision = guard.settle(c);
  return { decision, weights: sum.finish().weights, kept: [...c.accepted.keys()].sort() };
}

describe('update guard (poisoning-safe defaults)', () => {
  it('lower median: the smaller middle value', () => {
    expect(lowerMedian([])).toBeUndefined();
    expect(lowerMedian([3])).toBe(3);
    expect(lowerMedian([5, 1])).toBe(1);
    expect(lowerMedian([1e30, 1, 2])).toBe(2);
    expect(lowerMedian([4, 1, 3, 2])).toBe(2);
  });

  it('caps an example count at k × the lower median announced count; 0 = no cap', () => {
    const g = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 4, announced: [100, 120, 1_000_000, 0] });
    expect(g.exampleCap).toBe(480);
    expect(g.effectiveExamples(90)).toBe(90);
    expect(g.effectiveExamples(1_000_000)).toBe(480);
    expect(new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 0, announced: [100] }).effectiveExamples(1_000_000)).toBe(1_000_000);
  });

  it('refuses the outliers and gives bit-identical weights whatever the arrival order, with or without a previous median', () => {
    const rng = new SeededRandom(3);
    const updates = ['a', 'b', 'c', 'd', 'e', 'f'].map((siteId, k) => {
      const weights = update(rng, k === 2 ? 1e6 : 1 + k / 10);
      const norm = Math.sqrt(weights.reduce((s, w) => s + w.reduce((t, v) => t + v * v, 0), 0));
      return { siteId, weights, norm, n: 10 + k };
    });
    for (const previousMedianNorm of [undefined, 0.5, 3]) {
      const results = [0, 1, 2, 3].map((seed) => {
        const guard = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 4, previousMedianNorm, announced: updates.map((u) => u.n) });
        return aggregate(guard, new SeededRandom(seed).shuffle([...updates]));
      });
      for (const r of results) {
        expect(r.kept).toEqual(['a', 'b', 'd', 'e', 'f']);
        expect(r.decision.outliers.map((o) => [o.siteId, o.code])).toEqual([['c', 'update_norm']]);
        expect(r.weights.map((w) => [...w])).toEqual(results[0].weights.map((w) => [...w]));
      }
    }
  });

  it('with the bound off (normBoundMultiple 0) nothing is held or refused', () => {
    const rng = new SeededRandom(4);
    const updates = ['a', 'b', 'c'].map((siteId, k) => ({ siteId, weights: update(rng, k === 0 ? 1e6 : 1), norm: k === 0 ? 1e7 : 1, n: 5 }));
    const guard = new UpdateGuard({ normBoundMultiple: 0, exampleWeightCap: 4, announced: [5, 5, 5] });
    expect(guard.streamBound).toBe(Infinity);
    const r = aggregate(guard, updates);
    expect(r.kept).toEqual(['a', 'b', 'c']);
    expect(r.decision.outliers).toEqual([]);
  });
});

describe('federated evaluation weights', () => {
  const site = (siteId: string, numExamples: number) => ({ siteId, numExamples, accuracy: 0.5, loss: 1 });
  it('cap a reported test-split count at k × the lower median (exampleWeightCap); 0 = no cap', () => {
    const sites = [site('a', 50), site('b', 60), site('c', 1_000_000_000)];
    expect([...evaluationWeights(sites, 4)]).toEqual([['a', 50], ['b', 60], ['c', 240]]);
    expect(evaluationWeights(sites, 0).get('c')).toBe(1_000_000_000);
  });
});

describe('the norm bound cannot be driven to zero', () => {
  it('an unchanged model (zero delta) next to one honest update refuses nothing', () => {
    const guard = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 4, announced: [10, 10] });
    expect(guard.decide([{ siteId: 'a', norm: 0 }, { siteId: 'b', norm: 1.3 }])).toEqual({ median: undefined, bound: Infinity, outliers: [] });
  });
  it('with fewer than three positive norms and no history, the round is not bounded by one site', () => {
    const guard = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 4, announced: [10, 10] });
    expect(guard.decide([{ siteId: 'a', norm: 1e-12 }, { siteId: 'b', norm: 1.3 }]).outliers).toEqual([]);
  });
  it('zero norms do not count towards the median; tiny ones from a minority do not set it', () => {
    const guard = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 4, announced: [10, 10, 10, 10, 10] });
    const d = guard.decide([{ siteId: 'z', norm: 0 }, { siteId: 't', norm: 1e-12 }, { siteId: 'a', norm: 0.9 }, { siteId: 'b', norm: 1 }, { siteId: 'c', norm: 1.1 }]);
    expect(d.median).toBe(0.9);
    expect(d.bound).toBeCloseTo(4.5, 12);
    expect(d.outliers).toEqual([]);
  });
  it('the previous round\'s median still bounds a round with too few positive norms', () => {
    const guard = new UpdateGuard({ normBoundMultiple: 5, exampleWeightCap: 4, previousMedianNorm: 1, announced: [10, 10] });
    const d = guard.decide([{ siteId: 'a', norm: 1.2 }, { siteId: 'b', norm: 1e30 }]);
    expect(d.bound).toBe(5);
    expect(d.outliers.map((o) => o.siteId)).toEqual(['b']);
    expect(d.outliers[0].reason).toMatch(/previous round's median/);
  });
});

describe('update guard: exact bounds and reasons', () => {
  const guard = (o: Partial<ConstructorParameters<typeof UpdateGuard>[0]> = {}) =>
    new UpdateGuard({ normBoundMultiple: 3, exampleWeightCap: 2, announced: [10, 20, 30], ...o });

  it('lower median of an odd and an even count, unsorted, not the mean', () => {
    expect(lowerMedian([9, 1, 5])).toBe(5);
    expect(lowerMedian([8, 2, 6, 4, 10, 12])).toBe(6);
    expect(lowerMedian([-1, -3])).toBe(-3);
  });

  it('example cap: ⌊k × lower median of the positive announced counts⌋, at least 1, Infinity when off or unknown', () => {
    expect(guard().exampleCap).toBe(40);
    expect(guard({ exampleWeightCap: 1.55, announced: [10, 0, 0, 0, 0, 20, 30] }).exampleCap).toBe(31); // ⌊1.55 × 20⌋, zeros ignored
    expect(guard({ exampleWeightCap: 0.01, announced: [10] }).exampleCap).toBe(1);
    expect(guard({ exampleWeightCap: 0 }).exampleCap).toBe(Infinity);
    expect(guard({ announced: [] }).exampleCap).toBe(Infinity);
    expect(guard({ announced: [0, 0] }).exampleCap).toBe(Infinity);
    expect(guard().effectiveExamples(40)).toBe(40);
    expect(guard().effectiveExamples(41)).toBe(40);
    expect(guard().effectiveExamples(3)).toBe(3);
  });

  it('stream bound: k × previous median; 0 (hold everything) without one; Infinity when the bound is off', () => {
    expect(guard({ previousMedianNorm: 2 }).streamBound).toBe(6);
    expect(guard().streamBound).toBe(0);
    expect(guard({ normBoundMultiple: 0, previousMedianNorm: 2 }).streamBound).toBe(Infinity);
    expect(guard().normBoundActive).toBe(true);
    expect(guard({ normBoundMultiple: 0 }).normBoundActive).toBe(false);
  });

  it('decide: bound = k × max(previous median, this median), inclusive, outliers in site order with a reason', () => {
    const norms = [
      { siteId: 'd', norm: 100 },
      { siteId: 'a', norm: 1 },
      { siteId: 'c', norm: 6 },
      { siteId: 'b', norm: 2 },
      { siteId: 'f', norm: 2 },
      { siteId: 'e', norm: 6.5 },
    ];
    const d = guard().decide(norms);
    expect(d.median).toBe(2);
    expect(d.bound).toBe(6);
    expect(d.outliers).toEqual([
      { siteId: 'd', code: 'update_norm', reason: "update norm 100.0 exceeds the round's adaptive bound 6.000 (3 × median 2.000)" },
      { siteId: 'e', code: 'update_norm', reason: "update norm 6.500 exceeds the round's adaptive bound 6.000 (3 × median 2.000)" },
    ]);
    const withPrevious = guard({ previousMedianNorm: 2.2 }).decide(norms);
    expect(withPrevious.bound).toBeCloseTo(6.6, 12);
    expect(withPrevious.outliers).toEqual([
      { siteId: 'd', code: 'update_norm', reason: "update norm 100.0 exceeds the round's adaptive bound 6.600 (3 × the previous round's median)" },
    ]);
    // A lower previous median does not lower the bound below this round's.
    expect(guard({ previousMedianNorm: 1 }).decide(norms).bound).toBe(6);
    // An infinite norm is never within a bound.
    expect(guard().decide([{ siteId: 'x', norm: 1 }, { siteId: 'y', norm: Infinity }, { siteId: 'z', norm: 1 }]).outliers.map((o) => o.siteId)).toEqual(['y']);
  });

  it('decide lists outliers in site-id order whatever the order of the norms, and names the previous median only when it set the bound', () => {
    const norms = [
      { siteId: 'z', norm: 90 },
      { siteId: 'a', norm: 1 },
      { siteId: 'y', norm: 80 },
      { siteId: 'b', norm: 1 },
      { siteId: 'x', norm: 70 },
      { siteId: 'c', norm: 1 },
      { siteId: 'd', norm: 1 },
    ];
    expect(guard().decide(norms).outliers.map((o) => o.siteId)).toEqual(['x', 'y', 'z']);
    // The previous median equal to this one: the bound is this round's, no mention of the previous.
    expect(guard({ previousMedianNorm: 1 }).decide(norms).outliers[0].reason).toBe("update norm 70.00 exceeds the round's adaptive bound 3.000 (3 × median 1.000)");
    // A previous median below this round's (stream bound 1.5 < 3 × 2 = 6): not mentioned either.
    const higher = norms.map((n) => ({ ...n, norm: n.norm === 1 ? 2 : n.norm }));
    expect(guard({ previousMedianNorm: 0.5 }).decide(higher).outliers[0].reason).toBe("update norm 70.00 exceeds the round's adaptive bound 6.000 (3 × median 2.000)");
  });

  it('decide with the bound off or without updates refuses nothing', () => {
    expect(guard({ normBoundMultiple: 0 }).decide([{ siteId: 'a', norm: 1 }, { siteId: 'b', norm: 1e9 }, { siteId: 'c', norm: 2 }])).toEqual({ median: 2, bound: Infinity, outliers: [] });
    expect(guard().decide([])).toEqual({ median: undefined, bound: Infinity, outliers: [] });
  });

  it('settle removes the outliers and folds only the kept held updates into the stream, by their capped examples', () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    const sum = streaming([1]);
    c.aggregator = sum;
    const g = guard({ previousMedianNorm: 1 }); // stream bound 3
    c.streamBound = g.streamBound;
    const base = { metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1, bytes: 0 };
    c.accept({ ...base, siteId: 'a', weights: [new Float32Array([1])], numExamples: 10, effectiveExamples: 10, norm: 2 }); // streamed on arrival
    c.accept({ ...base, siteId: 'b', weights: [new Float32Array([4])], numExamples: 500, effectiveExamples: g.effectiveExamples(500), norm: 4 }); // held, kept (bound 3 × 4 = 12)
    c.accept({ ...base, siteId: 'c', weights: [new Float32Array([1000])], numExamples: 10, effectiveExamples: 10, norm: 50 }); // held, refused
    c.finish();
    const d = g.settle(c);
    expect(d.outliers.map((o) => o.siteId)).toEqual(['c']);
    expect([...c.accepted.keys()].sort()).toEqual(['a', 'b']);
    expect(c.accepted.get('b')).toMatchObject({ held: false, weights: [] });
    // (10·1 + 40·4) / 50 = 3.4
    expect(sum.finish().weights[0][0]).toBeCloseTo(3.4, 6);
  });

  it('settle without a stream only removes the outliers, keeping the weights', () => {
    const c = new RoundCollector(1, new Set(['a', 'b', 'c']), 60_000);
    const base = { metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1, bytes: 0, numExamples: 1, effectiveExamples: 1 };
    c.accept({ ...base, siteId: 'a', weights: [new Float32Array([1])], norm: 1 });
    c.accept({ ...base, siteId: 'b', weights: [new Float32Array([2])], norm: 1 });
    c.accept({ ...base, siteId: 'c', weights: [new Float32Array([3])] }); // no norm counts as 0
    c.finish();
    expect(guard().settle(c).outliers).toEqual([]);
    expect([...c.accepted.values()].map((u) => [u.siteId, u.weights[0][0], u.held])).toEqual([['a', 1, undefined], ['b', 2, undefined], ['c', 3, undefined]]);
  });
});

describe('update guard: certainty on arrival, zero norms, and which median the reason names', () => {
  const guard = (o: Partial<ConstructorParameters<typeof UpdateGuard>[0]> = {}) =>
    new UpdateGuard({ normBoundMultiple: 3, exampleWeightCap: 2, announced: [10, 20, 30], ...o });

  it('certain: every update when the bound is off; else a norm within the stream bound (inclusive; a missing norm is 0)', () => {
    const off = guard({ normBoundMultiple: 0 });
    expect([off.certain(1e9), off.certain(undefined)]).toEqual([true, true]);
    const on = guard({ previousMedianNorm: 2 }); // stream bound 6
    expect([on.certain(6), on.certain(6.0001), on.certain(0), on.certain(undefined)]).toEqual([true, false, true, true]);
    const fresh = guard(); // no previous median: stream bound 0, every positive norm waits for the round
    expect([fresh.certain(0), fresh.certain(1e-9), fresh.certain(undefined)]).toEqual([true, false, true]);
  });

  it('decide: zero norms do not make a median (two positive ones are too few), so nothing is refused', () => {
    const norms = [0, 0, 0, 2, 4].map((norm, k) => ({ siteId: `s${k}`, norm }));
    expect(guard().decide(norms)).toEqual({ median: undefined, bound: Infinity, outliers: [] });
  });

  it('decide: the reason names this round\'s median when k × it is above the previous bound, even if the previous bound is above k ÷ it', () => {
    // k = 3, median 2: bound max(3 × 1, 3 × 2) = 6 — set by this round's median (3 ÷ 2 = 1.5 is below 3, 3 × 2 above).
    const d = guard({ previousMedianNorm: 1 }).decide([1, 2, 2, 50].map((norm, k) => ({ siteId: `s${k}`, norm })));
    expect(d.bound).toBe(6);
    expect(d.outliers).toEqual([{ siteId: 's3', code: 'update_norm', reason: "update norm 50.00 exceeds the round's adaptive bound 6.000 (3 × median 2.000)" }]);
  });
});
