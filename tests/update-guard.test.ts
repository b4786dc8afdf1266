import { describe, expect, it } from 'vitest';
import { SeededRandom, StreamingFedAvg, type WeightArrays } from '@fedtune/shared';
import { RoundCollector } from '../coordinator/src/engine/round-collector.ts';
import { lowerMedian, UpdateGuard } from '../coordinator/src/engine/update-guard.ts';
import { evaluationWeights } from '../coordinator/src/engine/evaluation-collector.ts';

const lengths = [7, 3];
function update(rng: SeededRandom, scale: number): WeightArrays {
  return lengths.map((n) => Float32Array.from({ length: n }, () => scale * rng.normal()));
}

/** Streams `updates` into a collector in the given order under `guard`, settles, and returns the aggregate. */
function aggregate(guard: UpdateGuard, updates: Array<{ siteId: string; weights: WeightArrays; norm: number; n: number }>) {
  const c = new RoundCollector(1, new Set(updates.map((u) => u.siteId)), 60_000);
  c.stream = new StreamingFedAvg(lengths);
  c.streamBound = guard.streamBound;
  for (const u of updates) {
    c.accept({ siteId: u.siteId, weights: u.weights, numExamples: u.n, effectiveExamples: guard.effectiveExamples(u.n), norm: u.norm, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1, bytes: 0 });
  }
  c.finish();
  const decision = guard.settle(c);
  return { decision, weights: c.stream.result(), kept: [...c.accepted.keys()].sort() };
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
