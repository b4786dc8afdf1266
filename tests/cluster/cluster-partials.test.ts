import { describe, expect, it } from 'vitest';
import { encodeWeights, FedtuneError, type FitResult, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import { StreamingFedAvgAggregator } from '../../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { FollowerRoundPartial, type FollowerRoundPlan } from '../../coordinator/src/cluster/follower-round-partial.ts';
import { ClusterPartialLedger } from '../../coordinator/src/cluster/cluster-partial-ledger.ts';

const MANIFEST: WeightsManifest = [
  { name: 'w', shape: [3], dtype: 'float32' },
  { name: 'b', shape: [2], dtype: 'float32' },
];
const LENGTHS = [3, 2];
const GLOBAL: WeightArrays = [new Float32Array([0.5, -0.25, 1]), new Float32Array([2, -1])];
const SITES = ['site-01', 'site-02', 'site-03', 'site-04', 'site-05', 'site-06'];
const SELECTED = new Set(SITES);
const ROUND = { runId: 'run-a', round: 2, attempt: 1, selected: SELECTED };

/** Site k's update: the global weights moved by small, awkward amounts (so float order would show). */
function weightsOf(k: number): WeightArrays {
  return GLOBAL.map((g, t) => g.map((v, i) => v + Math.fround(0.1 / (k + 3 + i + t)) * (k % 2 === 0 ? 1 : -1)));
}
function fitResult(siteId: string, k: number, over: Partial<FitResult> = {}): FitResult {
  return { runId: 'run-a', round: 2, siteId, weights: encodeWeights({ manifest: MANIFEST, arrays: weightsOf(k) }), numExamples: 10 + k, metrics: { loss: 0.5, accuracy: 0.8 }, durationMs: 12, ...over };
}
function plan(node: string, over: Partial<FollowerRoundPlan> = {}): FollowerRoundPlan {
  return { node, runId: 'run-a', round: 2, attempt: 1, token: 1, manifest: MANIFEST, global: GLOBAL, selected: SELECTED, maxExamples: 1000, maxUpdateBytes: 1 << 20, exampleCap: Infinity, ...over };
}
function leaderAggregator(): StreamingFedAvgAggregator {
  const a = new StreamingFedAvgAggregator(LENGTHS);
  a.begin({ runId: 'run-a', round: 2, attempt: 1, global: GLOBAL, strategyState: undefined, selected: SITES.length });
  return a;
}
const bits = (w: WeightArrays) => w.map((t) => [...new Uint32Array(new Float32Array(t).buffer)]);
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as FedtuneError).code;
  }
  return 'none';
};

/** Sites split over the leader (its own sites added directly) and two followers folding partials. */
function clusterRound() {
  const leader = leaderAggregator();
  const ledger = new ClusterPartialLedger(ROUND, leader);
  const followers = { 'node-2': new FollowerRoundPartial(plan('node-2')), 'node-3': new FollowerRoundPartial(plan('node-3')) };
  return { leader, ledger, followers };
}

describe('partial aggregates across cluster nodes (follower folds, leader merges)', () => {
  it('the merged result is bit-identical to one node adding every update, and the records name every site once', () => {
    const single = leaderAggregator();
    SITES.forEach((s, k) => single.add({ siteId: s, weights: weightsOf(k), numExamples: 10 + k }));
    const { leader, ledger, followers } = clusterRound();
    SITES.forEach((s, k) => {
      if (k % 3 === 0) return leader.add({ siteId: s, weights: weightsOf(k), numExamples: 10 + k });
      const f = k % 3 === 1 ? followers['node-2'] : followers['node-3'];
      const v = f.add(s, fitResult(s, k), 100);
      expect(v.ok).toBe(true);
      if (v.ok) ledger.record(v.acceptance);
    });
    expect(ledger.awaited).toEqual(['node-2', 'node-3']);
    ledger.merge({ node: 'node-3', runId: 'run-a', round: 2, attempt: 1, token: 1, partial: followers['node-3'].close() });
    ledger.merge({ node: 'node-2', runId: 'run-a', round: 2, attempt: 1, token: 1, partial: followers['node-2'].close() });
    expect(ledger.awaited).toEqual([]);
    expect(ledger.unmerged()).toEqual([]);
    expect(ledger.accepted().map((r) => r.siteId)).toEqual(['site-02', 'site-03', 'site-05', 'site-06']);
    const a = leader.finish();
    const b = single.finish();
    expect(bits(a.weights)).toEqual(bits(b.weights));
    expect(a.siteIds).toEqual(SITES);
    expect(a.totalExamples).toBe(b.totalExamples);
  });

  it('a follower that dies before its partial: its sites are unmerged (not counted), the rest is the sum of the others', () => {
    const { leader, ledger, followers } = clusterRound();
    const expected = leaderAggregator();
    SITES.forEach((s, k) => {
      const f = k < 3 ? followers['node-2'] : followers['node-3'];
      const v = f.add(s, fitResult(s, k), 100);
      if (v.ok) ledger.record(v.acceptance);
      if (k >= 3) expected.add({ siteId: s, weights: weightsOf(k), numExamples: 10 + k });
    });
    ledger.merge({ node: 'node-3', runId: 'run-a', round: 2, attempt: 1, token: 1, partial: followers['node-3'].close() });
    expect(ledger.awaited).toEqual(['node-2']);
    expect(ledger.unmerged()).toEqual([
      { siteId: 'site-01', node: 'node-2' },
      { siteId: 'site-02', node: 'node-2' },
      { siteId: 'site-03', node: 'node-2' },
    ]);
    expect(ledger.accepted().map((r) => r.siteId)).toEqual(['site-04', 'site-05', 'site-06']);
    expect(bits(leader.finish().weights)).toEqual(bits(expected.finish().weights));
  });

  it('the follower runs the leader\'s checks: a result of another round, an unselected site, a duplicate, an over-claim, a bad size are refused; the cap weighs', () => {
    const f = new FollowerRoundPartial(plan('node-2', { exampleCap: 11, maxUpdateBytes: 10_000 }));
    const cases: Array<[string, FitResult, number | undefined, string]> = [
      ['another round', fitResult('site-01', 0, { round: 3 }), 100, 'stale_round'],
      ['another run', fitResult('site-01', 0, { runId: 'run-b' }), 100, 'stale_round'],
      ['not selected', fitResult('site-99', 0, { siteId: 'site-99' }), 100, 'not_selected'],
      ['truncated weights', fitResult('site-01', 0, { weights: new Uint8Array(7) }), 100, 'malformed_payload'],
      ['claims more than announced', fitResult('site-01', 0, { numExamples: 50 }), 20, 'invalid_count'],
    ];
    for (const [what, result, announced, code] of cases) {
      const v = f.add(result.siteId, result, announced);
      expect(v.ok ? 'ok' : v.code, what).toBe(code);
    }
    const ok = f.add('site-02', fitResult('site-02', 1), 100);
    expect(ok.ok && ok.acceptance).toMatchObject({ siteId: 'site-02', numExamples: 11, effectiveExamples: 11, bytes: fitResult('site-02', 1).weights.byteLength, node: 'node-2', round: 2, attempt: 1 });
    const capped = f.add('site-03', fitResult('site-03', 2), 100);
    expect(capped.ok && capped.acceptance.effectiveExamples).toBe(11);
    expect(capped.ok && capped.acceptance.numExamples).toBe(12);
    expect(capped.ok && capped.acceptance.norm).toBeGreaterThan(0);
    const again = f.add('site-02', fitResult('site-02', 1), 100);
    expect(again.ok ? 'ok' : again.code).toBe('duplicate_result');
    const p = f.close();
    expect(p.sites).toEqual([{ siteId: 'site-02', numExamples: 11 }, { siteId: 'site-03', numExamples: 11 }]);
    const late = f.add('site-04', fitResult('site-04', 3), 100);
    expect(late.ok ? 'ok' : late.code).toBe('stale_round');
    expect(codeOf(() => f.close())).toBe('stale_round');
  });

  it('the leader refuses hostile records and partials, and a refusal changes nothing', () => {
    const { leader, ledger, followers } = clusterRound();
    const v = followers['node-2'].add('site-01', fitResult('site-01', 0), 100);
    const good = v.ok ? v.acceptance : undefined!;
    leader.add({ siteId: 'site-04', weights: weightsOf(3), numExamples: 13 });
    const records: Array<[string, unknown, string]> = [
      ['not an object', 'x', 'malformed_payload'],
      ['an extra field', { ...good, extra: 1 }, 'malformed_payload'],
      ['a NaN norm', { ...good, norm: Number.NaN }, 'malformed_payload'],
      ['a negative count', { ...good, numExamples: -1 }, 'malformed_payload'],
      ['another run', { ...good, runId: 'run-b' }, 'stale_round'],
      ['another round', { ...good, round: 3 }, 'stale_round'],
      ['another attempt', { ...good, attempt: 2 }, 'stale_round'],
      ['an unselected site', { ...good, siteId: 'site-99' }, 'not_selected'],
      ['a site the leader already has', { ...good, siteId: 'site-04' }, 'duplicate_result'],
      ['weighing more than claimed', { ...good, effectiveExamples: 11, numExamples: 10 }, 'invalid_count'],
    ];
    for (const [what, raw, code] of records) expect(codeOf(() => ledger.record(raw)), what).toBe(code);
    expect(ledger.awaited).toEqual([]);
    ledger.record(good);
    expect(codeOf(() => ledger.record({ ...good, node: 'node-3' }))).toBe('duplicate_result');
    const partial = followers['node-2'].close();
    const envelope = { node: 'node-2', runId: 'run-a', round: 2, attempt: 1, token: 1, partial };
    const partials: Array<[string, unknown, string]> = [
      ['not an object', null, 'malformed_payload'],
      ['another attempt', { ...envelope, attempt: 2 }, 'stale_round'],
      ['from a node that recorded other sites', { ...envelope, node: 'node-3' }, 'malformed_payload'],
      ['a site weighing other than recorded', { ...envelope, partial: { ...partial, sites: [{ siteId: 'site-01', numExamples: 3 }] } }, 'malformed_payload'],
      ['a partial of another round inside', { ...envelope, partial: { ...partial, round: 3 } }, 'stale_round'],
      ['a corrupt sum', { ...envelope, partial: { ...partial, state: { ...partial.state, sums: 'AAAA' } } }, 'malformed_payload'],
    ];
    for (const [what, raw, code] of partials) expect(codeOf(() => ledger.merge(raw)), what).toBe(code);
    expect([...leader.siteIds]).toEqual(['site-04']);
    ledger.merge(envelope);
    expect([...leader.siteIds].sort()).toEqual(['site-01', 'site-04']);
    expect(codeOf(() => ledger.merge(envelope))).toBe('duplicate_result');
    const late = followers['node-3'].add('site-02', fitResult('site-02', 1), 100);
    expect(codeOf(() => ledger.record(late.ok ? { ...late.acceptance, node: 'node-2' } : undefined))).toBe('stale_round');
  });
});
