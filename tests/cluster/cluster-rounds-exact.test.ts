import { afterEach, describe, expect, it, vi } from 'vitest';
// Imported from the files, not the package indexes: a mutation run loads only what these classes need.
import { encodeWeights } from '../../shared/src/codec/weights-codec.ts';
import type { FitResult } from '../../shared/src/messages/schemas.ts';
import type { SiteLink } from '../../shared/src/transport/transport.ts';
import type { WeightArrays, WeightsManifest } from '../../shared/src/weights.ts';
import { StreamingFedAvgAggregator } from '../../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { RoundCollector } from '../../coordinator/src/engine/round-collector.ts';
import { UpdateGuard } from '../../coordinator/src/engine/update-guard.ts';
import type { EngineEvent } from '../../coordinator/src/engine/engine-types.ts';
import type { RemotePartialsAttemptStart } from '../../coordinator/src/engine/remote-partials.ts';
import type { RunConfig } from '../../coordinator/src/engine/run-config.ts';
import { sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';
import { CLUSTER_EVENTS } from '../../coordinator/src/cluster/cluster-messages.ts';
import { ClusterPartialLedger } from '../../coordinator/src/cluster/cluster-partial-ledger.ts';
import { FencingTokens } from '../../coordinator/src/cluster/fencing-check.ts';
import { FollowerPartialRounds } from '../../coordinator/src/cluster/follower-partial-rounds.ts';
import { FollowerRoundPartial, type FollowerRoundPlan } from '../../coordinator/src/cluster/follower-round-partial.ts';
import { LeaderRoundPartials } from '../../coordinator/src/cluster/leader-round-partials.ts';
import type { SiteAcceptanceMessage } from '../../coordinator/src/cluster/partial-round-messages.ts';
import { thrown, thrownAsync, thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * How the nodes of a cluster combine one round's partial results, driven directly with in-memory fakes (no
 * Redis, no sockets). The numbers are chosen so every average is exact in float32: a sum that counts a site
 * twice, drops one, or weighs one wrongly shows as another value, not as a rounding difference.
 */

const MANIFEST: WeightsManifest = [
  { name: 'w', shape: [3], dtype: 'float32' },
  { name: 'b', shape: [2], dtype: 'float32' },
];
const LENGTHS = [3, 2];
const ZERO: WeightArrays = [new Float32Array(3), new Float32Array(2)];
const RUN = 'run-x';
const ROUND = 2;
const TOKEN = 4;
/** Each site's update (the global weights are zero, so its norm is the update's own). */
const UPDATES: Record<string, [number[], number[]]> = {
  'site-a': [[1, 2, 3], [4, 5]],
  'site-b': [[3, 2, 1], [0, 1]],
  'site-c': [[2, 2, 2], [2, 2]],
  'site-d': [[4, 0, 0], [0, 0]],
  'site-l': [[0, 0, 8], [8, 0]],
};
/** Where each selected site is held: node-2 holds a and b, node-3 holds c, node-4 holds d, the leader holds l. */
const HOLDERS: Record<string, string | undefined> = { 'site-a': 'node-2', 'site-b': 'node-2', 'site-c': 'node-3', 'site-d': 'node-4', 'site-l': undefined };
const SITES = Object.keys(HOLDERS);
const socketOf = (siteId: string) => `sock-${siteId}`;
const arraysOf = (siteId: string): WeightArrays => UPDATES[siteId].map((t) => new Float32Array(t));
const normOf = (siteId: string) => Math.sqrt(UPDATES[siteId].flat().reduce((n, v) => n + v * v, 0));

function fit(siteId: string, numExamples: number, over: Partial<FitResult> = {}): FitResult {
  return { runId: RUN, round: ROUND, siteId, weights: encodeWeights({ manifest: MANIFEST, arrays: arraysOf(siteId) }), numExamples, metrics: { loss: 0.25, accuracy: 0.75 }, durationMs: 7, ...over };
}
const link = (id: string, node?: string) => ({ id, node, closed: false }) as unknown as SiteLink;
const values = (w: WeightArrays) => w.map((t) => [...t]);
/** (10·a + 30·b + 48·c + 40·l) / 128: every value exact in float32. */
const SUM_ABCL = [[1.53125, 1.375, 3.71875], [3.5625, 1.375]];

function aggregatorOf(selected = SITES.length, lengths = LENGTHS, global = ZERO): StreamingFedAvgAggregator {
  const a = new StreamingFedAvgAggregator(lengths);
  a.begin({ runId: RUN, round: ROUND, attempt: 1, global, strategyState: undefined, selected });
  return a;
}

function followerPlan(node: string, over: Partial<FollowerRoundPlan> = {}): FollowerRoundPlan {
  return { node, runId: RUN, round: ROUND, attempt: 1, token: TOKEN, manifest: MANIFEST, global: ZERO, selected: new Set(SITES), maxExamples: 1000, maxUpdateBytes: 1 << 20, exampleCap: Infinity, ...over };
}

/** A follower's folded sites: their records and the partial message it sends at the close. */
function folded(node: string, sites: Array<[string, number]>, over: Partial<FollowerRoundPlan> = {}) {
  const f = new FollowerRoundPartial(followerPlan(node, over));
  const records = sites.map(([siteId, n]) => {
    const v = f.add(siteId, fit(siteId, n), undefined);
    if (!v.ok) throw new Error(`${siteId} refused: ${v.reason}`);
    return v.acceptance;
  });
  let partial: ReturnType<FollowerRoundPartial['close']> | undefined;
  return { records, message: () => ({ node, runId: RUN, round: ROUND, attempt: 1, token: TOKEN, partial: (partial ??= f.close()) }) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('FollowerRoundPartial: a follower folds its sites with the leader\'s checks', () => {
  it('folds updates into an exact weighted sum, and each record says what the leader needs', () => {
    const f = new FollowerRoundPartial(followerPlan('node-2'));
    expect(f.siteIds.size).toBe(0);
    const ra = fit('site-a', 10);
    const va = f.add('site-a', ra, 10);
    expect(va).toEqual({
      ok: true,
      acceptance: { node: 'node-2', runId: RUN, round: ROUND, attempt: 1, token: TOKEN, siteId: 'site-a', numExamples: 10, effectiveExamples: 10, norm: normOf('site-a'), metrics: { loss: 0.25, accuracy: 0.75 }, durationMs: 7, bytes: ra.weights.byteLength, sha256: sha256OfBytes(ra.weights) },
    });
    expect(f.add('site-b', fit('site-b', 30), undefined).ok).toBe(true);
    expect([...f.siteIds].sort()).toEqual(['site-a', 'site-b']);
    const p = f.close();
    expect(p).toMatchObject({ kind: 'streaming-fedavg', runId: RUN, round: ROUND, attempt: 1, sites: [{ siteId: 'site-a', numExamples: 10 }, { siteId: 'site-b', numExamples: 30 }], count: 2, totalExamples: 40 });
    // The sums cross Redis as bytes (msgpack carries binary).
    expect((p.state as { sums: unknown }).sums).toBeInstanceOf(Uint8Array);
    const leader = aggregatorOf();
    leader.merge(p);
    const out = leader.finish();
    // (10·a + 30·b) / 40
    expect(values(out.weights)).toEqual([[2.5, 2, 1.5], [1, 2]]);
    expect(out.totalExamples).toBe(40);
  });

  it('a tensor of several dimensions is folded whole (its length is the product of its shape)', () => {
    const manifest: WeightsManifest = [{ name: 'k', shape: [2, 3], dtype: 'float32' }];
    const global = [new Float32Array(6)];
    const f = new FollowerRoundPartial(followerPlan('node-2', { manifest, global }));
    const weights = encodeWeights({ manifest, arrays: [new Float32Array([1, 2, 3, 4, 5, 6])] });
    expect(f.add('site-a', { ...fit('site-a', 5), weights }, undefined).ok).toBe(true);
    const leader = aggregatorOf(SITES.length, [6], global);
    leader.merge(f.close());
    expect(values(leader.finish().weights)).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  it('the example cap weighs an update for at most the cap; the record keeps the claim', () => {
    const f = new FollowerRoundPartial(followerPlan('node-2', { exampleCap: 10 }));
    const a = f.add('site-a', fit('site-a', 10), undefined);
    const b = f.add('site-b', fit('site-b', 30), undefined);
    expect(a.ok && [a.acceptance.numExamples, a.acceptance.effectiveExamples]).toEqual([10, 10]);
    expect(b.ok && [b.acceptance.numExamples, b.acceptance.effectiveExamples]).toEqual([30, 10]);
    const leader = aggregatorOf();
    leader.merge(f.close());
    const out = leader.finish();
    expect(values(out.weights)).toEqual([[2, 2, 2], [2, 3]]);
    expect(out.totalExamples).toBe(20);
  });

  it('refuses what the leader would: another round or run, a site not selected, a duplicate, more than announced or allowed, too many bytes, a norm above the bound, another encoding', () => {
    const bytes = fit('site-a', 1).weights.byteLength;
    const f = new FollowerRoundPartial(followerPlan('node-2', { selected: new Set(['site-a', 'site-b', 'site-c']), maxExamples: 50, maxUpdateBytes: bytes, maxUpdateNorm: normOf('site-a') }));
    const code = (siteId: string, r: FitResult, announced?: number) => {
      const v = f.add(siteId, r, announced);
      return v.ok ? 'ok' : v.code;
    };
    expect(code('site-a', fit('site-a', 10, { round: 3 }))).toBe('stale_round');
    expect(code('site-a', fit('site-a', 10, { runId: 'run-y' }))).toBe('stale_round');
    expect(code('site-d', fit('site-d', 10))).toBe('not_selected');
    expect(code('site-a', fit('site-a', 51))).toBe('invalid_count');
    expect(code('site-a', fit('site-a', 21), 20)).toBe('invalid_count');
    expect(new FollowerRoundPartial(followerPlan('node-2', { maxUpdateBytes: bytes - 1 })).add('site-a', fit('site-a', 10), undefined)).toMatchObject({ ok: false, code: 'payload_too_large' });
    // Twice site-a's update: a norm of 2·√55, above the run's bound of √55.
    expect(code('site-a', { ...fit('site-a', 10), weights: encodeWeights({ manifest: MANIFEST, arrays: arraysOf('site-a').map((t) => t.map((v) => v * 2)) }) })).toBe('update_norm');
    // At every bound at once: taken.
    expect(code('site-a', fit('site-a', 50), 50)).toBe('ok');
    expect(code('site-a', fit('site-a', 10))).toBe('duplicate_result');
    const fp16 = new FollowerRoundPartial(followerPlan('node-2', { updateEncoding: 'fp16' }));
    expect(fp16.add('site-a', fit('site-a', 10), undefined).ok).toBe(false);
  });

  it('the stream bound: a norm at the bound is folded; just above it goes to the leader, saying why', () => {
    const at = new FollowerRoundPartial(followerPlan('node-2', { streamBound: normOf('site-a') }));
    expect(at.add('site-a', fit('site-a', 10), undefined).ok).toBe(true);
    const below = normOf('site-a') * (1 - 2 ** -40);
    const above = new FollowerRoundPartial(followerPlan('node-2', { streamBound: below }));
    expect(above.add('site-a', fit('site-a', 10), undefined)).toEqual({ ok: false, code: 'update_norm', reason: `norm ${normOf('site-a').toPrecision(4)} is above ${below.toPrecision(4)}: the round's adaptive bound decides it on the leader` });
    expect(above.siteIds.size).toBe(0);
  });

  it('after the close: a late result is stale, a second close throws', () => {
    const f = new FollowerRoundPartial(followerPlan('node-2'));
    f.close();
    expect(f.add('site-a', fit('site-a', 10), undefined)).toEqual({ ok: false, code: 'stale_round', reason: 'round 2 closed before this result arrived' });
    expect(thrownCodeAndMessage(() => f.close())).toEqual({ code: 'stale_round', message: 'round 2 attempt 1 is already closed on this node' });
  });
});

describe('ClusterPartialLedger: a partial is merged only when it holds exactly the sites its node recorded', () => {
  const round = { runId: RUN, round: ROUND, attempt: 1, selected: new Set(SITES) };
  const ledgerOf = () => {
    const aggregator = aggregatorOf();
    return { aggregator, ledger: new ClusterPartialLedger(round, aggregator) };
  };

  it('exact sum over two followers and the leader\'s own site; each site in once; accepted in site-id order', () => {
    const { aggregator, ledger } = ledgerOf();
    const n2 = folded('node-2', [['site-b', 30], ['site-a', 10]]);
    const n3 = folded('node-3', [['site-c', 48]]);
    aggregator.add({ siteId: 'site-l', weights: arraysOf('site-l'), numExamples: 40 });
    for (const r of [...n2.records, ...n3.records]) expect(ledger.record(r)).toEqual(r);
    expect(ledger.awaited).toEqual(['node-2', 'node-3']);
    expect(ledger.mergedFrom('node-2')).toBe(false);
    ledger.merge(n3.message());
    expect(ledger.awaited).toEqual(['node-2']);
    expect(ledger.mergedFrom('node-3')).toBe(true);
    expect(ledger.accepted().map((r) => r.siteId)).toEqual(['site-c']);
    expect(ledger.unmerged()).toEqual([
      { siteId: 'site-a', node: 'node-2' },
      { siteId: 'site-b', node: 'node-2' },
    ]);
    ledger.merge(n2.message());
    expect(ledger.awaited).toEqual([]);
    expect(ledger.unmerged()).toEqual([]);
    expect(ledger.accepted().map((r) => r.siteId)).toEqual(['site-a', 'site-b', 'site-c']);
    const out = aggregator.finish();
    // (10·a + 30·b + 48·c + 40·l) / 128
    expect(values(out.weights)).toEqual(SUM_ABCL);
    expect(out.totalExamples).toBe(128);
    expect(out.siteIds).toEqual(['site-a', 'site-b', 'site-c', 'site-l']);
  });

  it('refuses a record: malformed (saying where), another run, round or attempt, not selected, twice, already in the aggregate, after its node\'s partial, weighing more than it claims', () => {
    const { aggregator, ledger } = ledgerOf();
    const [a, b] = folded('node-2', [['site-a', 10], ['site-b', 30]]).records;
    aggregator.add({ siteId: 'site-l', weights: arraysOf('site-l'), numExamples: 20 });
    expect(thrownCodeAndMessage(() => ledger.record('x'))).toEqual({ code: 'malformed_payload', message: 'not a site acceptance record: (root): Invalid input: expected object, received string' });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, norm: -1 })).message).toMatch(/^not a site acceptance record: norm: /);
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, runId: 'run-y' }))).toEqual({ code: 'stale_round', message: `the message is of run run-y, not ${RUN}` });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, round: 3 }))).toEqual({ code: 'stale_round', message: 'the message is of round 3 attempt 1, not round 2 attempt 1' });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, attempt: 2 }))).toEqual({ code: 'stale_round', message: 'the message is of round 2 attempt 2, not round 2 attempt 1' });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, siteId: 'site-z' }))).toEqual({ code: 'not_selected', message: 'site site-z is not selected in round 2' });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, siteId: 'site-l' }))).toEqual({ code: 'duplicate_result', message: 'site site-l is already accepted in round 2' });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, effectiveExamples: 11 }))).toEqual({ code: 'invalid_count', message: 'site site-a weighs 11 examples but claimed 10' });
    expect(ledger.awaited).toEqual([]);
    ledger.record(a);
    expect(thrownCodeAndMessage(() => ledger.record(a))).toEqual({ code: 'duplicate_result', message: 'site site-a is already accepted in round 2' });
    expect(thrownCodeAndMessage(() => ledger.record({ ...a, node: 'node-3' }))).toEqual({ code: 'duplicate_result', message: 'site site-a is already accepted in round 2' });
    ledger.merge({ node: 'node-2', runId: RUN, round: ROUND, attempt: 1, token: TOKEN, partial: (() => { const f = new FollowerRoundPartial(followerPlan('node-2')); f.add('site-a', fit('site-a', 10), undefined); return f.close(); })() });
    expect(thrownCodeAndMessage(() => ledger.record(b))).toEqual({ code: 'stale_round', message: 'node node-2 already sent its partial for round 2' });
    // A record weighing exactly what it claims is taken.
    ledger.record({ ...b, node: 'node-3', effectiveExamples: 30 });
    expect(ledger.awaited).toEqual(['node-3']);
  });

  it('refuses a partial that is malformed, of another round, a second one, or not exactly its node\'s recorded sites and weights; a refusal merges nothing', () => {
    const { aggregator, ledger } = ledgerOf();
    const n2 = folded('node-2', [['site-a', 10], ['site-b', 30]]);
    for (const r of n2.records) ledger.record(r);
    const m = n2.message();
    const sites = m.partial.sites;
    const withSites = (s: unknown) => ({ ...m, partial: { ...m.partial, sites: s } });
    expect(thrownCodeAndMessage(() => ledger.merge(null))).toEqual({ code: 'malformed_payload', message: 'not a partial message: (root): Invalid input: expected object, received null' });
    expect(thrownCodeAndMessage(() => ledger.merge({ ...m, token: 0 })).message).toMatch(/^not a partial message: token: /);
    expect(thrownCodeAndMessage(() => ledger.merge({ ...m, attempt: 2 }))).toEqual({ code: 'stale_round', message: 'the message is of round 2 attempt 2, not round 2 attempt 1' });
    const notExactly = { code: 'malformed_payload', message: "node node-2's partial does not hold exactly the 2 site(s) it accepted" };
    expect(thrownCodeAndMessage(() => ledger.merge(withSites([sites[0]])))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge(withSites([...sites, { siteId: 'site-c', numExamples: 20 }])))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge(withSites([sites[0], { siteId: 'site-c', numExamples: 30 }])))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge(withSites([sites[0], { siteId: 'site-b', numExamples: 29 }])))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge(withSites([sites[0], null])))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge(withSites([sites[0], { siteId: 7, numExamples: 30 }])))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge(withSites('site-a,site-b')))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge({ ...m, partial: null }))).toEqual(notExactly);
    expect(thrownCodeAndMessage(() => ledger.merge({ ...m, node: 'node-3' }))).toEqual({ code: 'malformed_payload', message: "node node-3's partial does not hold exactly the 0 site(s) it accepted" });
    // The same site twice, with the right count each time: the list matches, the aggregator refuses it.
    expect(thrown(() => ledger.merge({ ...m, partial: { ...m.partial, sites: [sites[0], sites[0]], totalExamples: 20 } })).code).toBe('duplicate_result');
    // The envelope right, the aggregator's state wrong: its refusal, as a FedtuneError.
    expect(thrown(() => ledger.merge({ ...m, partial: { ...m.partial, state: { ...m.partial.state, sums: new Uint8Array(3) } } })).code).toBe('malformed_payload');
    expect(aggregator.siteIds.size).toBe(0);
    expect(ledger.awaited).toEqual(['node-2']);
    ledger.merge(m);
    expect(thrownCodeAndMessage(() => ledger.merge(m))).toEqual({ code: 'duplicate_result', message: 'node node-2 already sent its partial for round 2' });
    expect(values(aggregator.finish().weights)).toEqual([[2.5, 2, 1.5], [1, 2]]);
  });

  it('a partial of a node that recorded nothing, holding nothing, merges as empty (that node is then done)', () => {
    const { aggregator, ledger } = ledgerOf();
    const empty = new FollowerRoundPartial(followerPlan('node-4')).close();
    ledger.merge({ node: 'node-4', runId: RUN, round: ROUND, attempt: 1, token: TOKEN, partial: empty });
    expect(ledger.mergedFrom('node-4')).toBe(true);
    expect(aggregator.siteIds.size).toBe(0);
    expect(thrown(() => ledger.record({ ...folded('node-4', [['site-d', 5]]).records[0] })).code).toBe('stale_round');
  });
});

/** The leader with its collaborators in memory; `remote` sites are on the node HOLDERS names. */
function leaderSetup(over: { config?: Partial<RunConfig>; guard?: Partial<ConstructorParameters<typeof UpdateGuard>[0]>; partialWaitMs?: number | null; token?: number; store?: () => Promise<string>; site?: RemotePartialsAttemptStart['site'] } = {}) {
  const config = { runId: RUN, maxExamplesPerSite: 1000, maxUpdateBytes: 1 << 20, roundTimeoutMs: 60_000, modelDelivery: 'socket', train: {}, ...over.config } as unknown as RunConfig;
  const aggregator = aggregatorOf();
  const collector = new RoundCollector(ROUND, new Set(SITES), 60_000);
  collector.aggregator = aggregator;
  const guard = new UpdateGuard({ normBoundMultiple: 0, exampleWeightCap: 0, previousMedianNorm: 1, announced: [10, 20, 30], ...over.guard });
  const events: EngineEvent[] = [];
  const logs: string[] = [];
  const sent: Array<{ event: string; payload: Record<string, unknown> }> = [];
  const leader = new LeaderRoundPartials({
    nodeId: 'node-1',
    storeWeights: over.store ?? (async (bytes) => sha256OfBytes(bytes)),
    emitToNodes: (event, payload) => sent.push({ event, payload: payload as Record<string, unknown> }),
    remoteOf: (l) => ((l as { node?: string }).node ? { node: (l as { node?: string }).node!, socket: l.id } : undefined),
    ...(over.partialWaitMs === null ? {} : { partialWaitMs: over.partialWaitMs ?? 60_000 }),
    storeTimeoutMs: 1000,
    leaderToken: () => over.token ?? TOKEN,
    log: (line) => logs.push(line),
  });
  const weightsBytes = encodeWeights({ manifest: MANIFEST, arrays: ZERO });
  const start: RemotePartialsAttemptStart = {
    config,
    round: ROUND,
    attempt: 1,
    selected: SITES,
    modelVersion: 3,
    weightsBytes,
    aggregator,
    collector,
    guard,
    site: over.site ?? ((id) => (id in HOLDERS ? { link: link(socketOf(id), HOLDERS[id]), numExamples: 100, termsAccepted: true } : undefined)),
    emit: (e) => events.push(e),
  };
  return { config, aggregator, collector, guard, events, logs, sent, leader, start };
}

/** A record as node `node`'s follower makes it for `siteId` with `n` examples (`over` changes it afterwards). */
function recordOf(siteId: string, n: number, over: Partial<SiteAcceptanceMessage> = {}, node = HOLDERS[siteId]!): SiteAcceptanceMessage {
  return { ...folded(node, [[siteId, n]]).records[0], ...over };
}

describe('LeaderRoundPartials: the plan', () => {
  it('names only the selected sites that are on other nodes, have accepted the terms and are connected; the announcement only when known', async () => {
    const s = leaderSetup({
      site: (id) => {
        if (id === 'site-a') return { link: link(socketOf(id), 'node-2'), numExamples: 12, termsAccepted: true };
        if (id === 'site-b') return { link: link(socketOf(id), 'node-2'), termsAccepted: true };
        if (id === 'site-c') return { link: link(socketOf(id), 'node-3'), numExamples: 5, termsAccepted: false };
        if (id === 'site-d') return { link: { ...link(socketOf(id), 'node-4'), closed: true } as SiteLink, numExamples: 5, termsAccepted: true };
        if (id === 'site-l') return { link: link(socketOf(id)), numExamples: 5, termsAccepted: true };
        return undefined;
      },
    });
    s.start.selected = [...SITES, 'site-gone'];
    expect(await s.leader.beginAttempt(s.start)).toBeDefined();
    expect(s.sent).toHaveLength(1);
    expect(s.sent[0].event).toBe(CLUSTER_EVENTS.roundPlan);
    expect(s.sent[0].payload.sites).toEqual([
      { siteId: 'site-a', node: 'node-2', socket: 'sock-site-a', announced: 12 },
      { siteId: 'site-b', node: 'node-2', socket: 'sock-site-b' },
    ]);
    expect(s.sent[0].payload).toMatchObject({ node: 'node-1', runId: RUN, round: ROUND, attempt: 1, token: TOKEN, modelVersion: 3, weightsFrom: 'sha256', weightsSha256: sha256OfBytes(s.start.weightsBytes), maxExamples: 1000, maxUpdateBytes: 1 << 20, exampleCap: null, streamBound: null });
  });

  it.each([
    ['token 0', 0],
    ['a NaN token', Number.NaN],
  ])('a leader without a valid fencing token (%s) plans nothing', async (_what, token) => {
    const s = leaderSetup({ token });
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.sent).toEqual([]);
  });

  it('token 1 is a valid token', async () => {
    const s = leaderSetup({ token: 1 });
    expect(await s.leader.beginAttempt(s.start)).toBeDefined();
    expect(s.sent[0].payload.token).toBe(1);
  });

  it('weights it cannot store: no plan, and one log line with the reason clipped at 200 characters', async () => {
    const long = 'e'.repeat(250);
    const s = leaderSetup({ store: () => Promise.reject(new Error(long)) });
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.sent).toEqual([]);
    expect(s.logs).toEqual([`round 2: the global weights could not be stored for the followers (${'e'.repeat(200)}… (50 more characters)); their sites' updates are relayed`]);
    const t = leaderSetup({ store: () => Promise.reject('READONLY') });
    await t.leader.beginAttempt(t.start);
    expect(t.logs).toEqual(["round 2: the global weights could not be stored for the followers (READONLY); their sites' updates are relayed"]);
  });

  it('an attempt with nothing to plan ends the previous one: its records are stale', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    s.leader.onRecord(recordOf('site-a', 10));
    s.start.selected = ['site-l'];
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(thrownCodeAndMessage(() => s.leader.onRecord(recordOf('site-b', 30)))).toEqual({ code: 'stale_round', message: 'no attempt with partial aggregates is in progress' });
    expect(thrownCodeAndMessage(() => s.leader.onPartial({}))).toEqual({ code: 'stale_round', message: 'no attempt with partial aggregates is in progress' });
  });

  it('the close of a superseded attempt leaves the new one in progress', async () => {
    const s = leaderSetup({ partialWaitMs: 1 });
    const old = (await s.leader.beginAttempt(s.start))!;
    const next = (await s.leader.beginAttempt(s.start))!;
    await old.close();
    s.leader.onRecord(recordOf('site-a', 10));
    expect(s.collector.accepted.has('site-a')).toBe(true);
    await next.close();
    expect(thrown(() => s.leader.onRecord(recordOf('site-b', 30))).code).toBe('stale_round');
  });
});

describe('LeaderRoundPartials: records', () => {
  it('a record counts its site as accepted (folded elsewhere), with its audit and result events', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const r = recordOf('site-a', 10);
    s.leader.onRecord(r);
    expect(s.collector.accepted.get('site-a')).toEqual({ siteId: 'site-a', weights: [], numExamples: 10, effectiveExamples: 10, norm: normOf('site-a'), metrics: { loss: 0.25, accuracy: 0.75 }, durationMs: 7, bytes: r.bytes, held: false });
    expect(s.events).toEqual([
      { type: 'update-received', round: ROUND, siteId: 'site-a', message: 'fitResult', sha256: r.sha256, bytes: r.bytes, numExamples: 10 },
      { type: 'result', round: ROUND, siteId: 'site-a', accepted: true },
    ]);
    expect(s.leader.recordsAfterClose).toBe(0);
    const { sha256: _, ...noHash } = recordOf('site-b', 30);
    s.leader.onRecord(noHash);
    expect(s.events.slice(2)).toEqual([{ type: 'result', round: ROUND, siteId: 'site-b', accepted: true }]);
  });

  it('refuses, with a typed code and an exact reason, and changes nothing', async () => {
    const s = leaderSetup({ guard: { normBoundMultiple: 2, previousMedianNorm: 4, exampleWeightCap: 1 } });
    await s.leader.beginAttempt(s.start);
    // The cap: 1 × the lower median of the announced 10, 20, 30; the stream bound: 2 × 4.
    const r = recordOf('site-b', 20, { effectiveExamples: 20 });
    const refusals: Array<[Partial<SiteAcceptanceMessage>, string, string]> = [
      [{ token: 3 }, 'stale_leader', "the acceptance record of node node-2 carries fencing token 3, not the leader's 4"],
      [{ node: 'node-3' }, 'not_selected', 'site site-b is on node node-2, not node-3'],
      [{ siteId: 'site-l' }, 'not_selected', 'site site-l is not selected in round 2'],
      [{ numExamples: 1001, effectiveExamples: 20 }, 'invalid_count', "site site-b claims 1001 examples, above the run's 1000"],
      [{ numExamples: 30, effectiveExamples: 30 }, 'invalid_count', "site site-b weighs 30 examples, not the round's capped 20"],
      [{ numExamples: 15, effectiveExamples: 10 }, 'invalid_count', "site site-b weighs 10 examples, not the round's capped 15"],
      [{ norm: 8.000001 }, 'update_norm', "site site-b's norm 8.000 is not certain to be kept: it must come to the leader individually"],
      [{ bytes: (1 << 20) + 1 }, 'payload_too_large', `site site-b's update of ${(1 << 20) + 1} bytes is above ${1 << 20}`],
      [{ runId: 'run-y' }, 'stale_round', `the message is of run run-y, not ${RUN}`],
    ];
    for (const [change, code, message] of refusals) expect(thrownCodeAndMessage(() => s.leader.onRecord({ ...r, ...change })), code).toEqual({ code, message });
    expect(thrownCodeAndMessage(() => s.leader.onRecord({ ...r, norm: 'x' }))).toEqual({ code: 'malformed_payload', message: 'not a site acceptance record: norm: Invalid input: expected number, received string' });
    expect(thrownCodeAndMessage(() => s.leader.onRecord(7))).toEqual({ code: 'malformed_payload', message: 'not a site acceptance record: (root): Invalid input: expected object, received number' });
    expect(s.leader.staleTokenRefused).toBe(1);
    expect(s.collector.accepted.size).toBe(0);
    expect(s.events).toEqual([]);
    // At the bounds: the run's most examples (capped to 20), a norm at the stream bound, the most bytes.
    s.leader.onRecord({ ...r, numExamples: 1000, effectiveExamples: 20, norm: 8, bytes: 1 << 20 });
    expect(s.collector.accepted.get('site-b')).toMatchObject({ numExamples: 1000, effectiveExamples: 20, norm: 8, bytes: 1 << 20 });
    expect(thrownCodeAndMessage(() => s.leader.onRecord(r))).toEqual({ code: 'duplicate_result', message: 'site site-b is already accepted in round 2' });
    expect(s.leader.staleTokenRefused).toBe(1);
  });

  it('a site the leader accepted itself (its update relayed) is a duplicate', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    s.collector.accept({ siteId: 'site-c', weights: arraysOf('site-c'), numExamples: 20, effectiveExamples: 20, norm: normOf('site-c'), metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 });
    expect(thrownCodeAndMessage(() => s.leader.onRecord(recordOf('site-c', 20)))).toEqual({ code: 'duplicate_result', message: 'site site-c is already accepted in round 2' });
  });

  it('a batch: each record on its own, the refused ones listed', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const a = recordOf('site-a', 10);
    const out = s.leader.onRecordBatch({ node: 'node-2', records: [a, a, { ...recordOf('site-b', 30), token: 9 }] });
    expect(out.applied).toBe(1);
    expect(out.refused.map((e) => e.code)).toEqual(['duplicate_result', 'stale_leader']);
    expect(s.leader.staleTokenRefused).toBe(1);
  });
});

/** An attempt with records of node-2 (a, b) and node-3 (c) taken; node-4 (d) silent; the leader's own site-l accepted. */
async function recordedAttempt(over: Parameters<typeof leaderSetup>[0] = {}) {
  const s = leaderSetup(over);
  const attempt = (await s.leader.beginAttempt(s.start))!;
  const n2 = folded('node-2', [['site-a', 10], ['site-b', 30]]);
  const n3 = folded('node-3', [['site-c', 48]]);
  for (const r of [...n2.records, ...n3.records]) s.leader.onRecord(r);
  s.collector.accept({ siteId: 'site-l', weights: arraysOf('site-l'), numExamples: 40, effectiveExamples: 40, norm: normOf('site-l'), metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 });
  return { ...s, attempt, n2, n3 };
}

describe('LeaderRoundPartials: the close merges the partials, and leaves out the sites of a node whose partial never came or was refused', () => {
  it('every partial in: the exact sum, the counters, one log line; no wait; silent sites of merged nodes not excused', async () => {
    const s = await recordedAttempt();
    s.leader.onPartial(s.n3.message());
    s.leader.onPartial(s.n2.message());
    const started = Date.now();
    await s.attempt.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(s.sent.at(-1)).toEqual({ event: CLUSTER_EVENTS.roundClose, payload: { node: 'node-1', runId: RUN, round: ROUND, attempt: 1, token: TOKEN } });
    expect(values(s.aggregator.finish().weights)).toEqual(SUM_ABCL);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([2, 3, 0]);
    expect(s.logs).toEqual(['round 2 attempt 1: merged 2 partial aggregate(s) (3 site(s)) from node-2, node-3']);
    expect(s.collector.failed).toEqual([]);
    // node-4 was never heard from (no record, no partial, no answer of its site): its silence may be the link's.
    expect([...s.collector.excused]).toEqual(['site-d']);
    expect(thrown(() => s.leader.onPartial(s.n2.message())).code).toBe('stale_round');
  });

  it('a partial that never comes: the wait ends at partialWaitMs, that node\'s sites are left out and failed, excused; the sum holds the rest', async () => {
    const s = await recordedAttempt({ partialWaitMs: 30 });
    s.leader.onPartial(s.n2.message());
    await s.attempt.close();
    const reason = 'node node-3 accepted the update but its partial aggregate was left out (no partial aggregate within 30 ms)';
    expect(s.collector.failed).toEqual([{ siteId: 'site-c', reason }]);
    expect(s.collector.accepted.has('site-c')).toBe(false);
    expect(s.events.filter((e) => e.type === 'result' && !e.accepted)).toEqual([{ type: 'result', round: ROUND, siteId: 'site-c', accepted: false, code: 'transport', reason }]);
    // (10·a + 30·b + 40·l) / 80
    expect(values(s.aggregator.finish().weights)).toEqual([[1.25, 1, 4.75], [4.5, 1]]);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([1, 2, 1]);
    expect(s.logs).toEqual(['round 2 attempt 1: merged 1 partial aggregate(s) (2 site(s)) from node-2; left out 1 site(s) of node-3 (no partial)']);
    expect([...s.collector.excused].sort()).toEqual(['site-d']);
  });

  it('the wait is the round timeout when that is shorter, and 10 s by default', async () => {
    vi.useFakeTimers();
    const s = await recordedAttempt({ partialWaitMs: null, config: { roundTimeoutMs: 25 } });
    let done = false;
    void s.attempt.close().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(24);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(s.collector.failed.map((f) => f.reason)).toContain('node node-2 accepted the update but its partial aggregate was left out (no partial aggregate within 25 ms)');

    const t = await recordedAttempt({ partialWaitMs: null });
    let over = false;
    void t.attempt.close().then(() => (over = true));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(over).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(over).toBe(true);
    expect(t.collector.failed.map((f) => f.siteId)).toEqual(['site-a', 'site-b', 'site-c']);
    expect(t.logs).toEqual(['round 2 attempt 1: merged 0 partial aggregate(s) (0 site(s)) from no node; left out 3 site(s) of node-2, node-3 (no partial)']);
  });

  it('the last awaited partial ends the wait at once', async () => {
    vi.useFakeTimers();
    const s = await recordedAttempt();
    let done = false;
    const closing = s.attempt.close().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(10);
    s.leader.onPartial(s.n2.message());
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    s.leader.onPartial(s.n3.message());
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    await closing;
    expect(s.collector.failed).toEqual([]);
  });

  it('a refused partial: that node is no longer awaited (the close does not wait for it), its sites are left out with the refusal, and a later good partial of it still merges before the close', async () => {
    vi.useFakeTimers();
    const s = await recordedAttempt();
    s.leader.onPartial(s.n2.message());
    const bad = { ...s.n3.message(), token: 3 };
    expect(thrownCodeAndMessage(() => s.leader.onPartial(bad))).toEqual({ code: 'stale_leader', message: "the partial aggregate of node node-3 carries fencing token 3, not the leader's 4" });
    expect(s.leader.staleTokenRefused).toBe(1);
    let done = false;
    const closing = s.attempt.close().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    await closing;
    expect(s.collector.failed).toEqual([{ siteId: 'site-c', reason: "node node-3 accepted the update but its partial aggregate was left out (stale_leader: the partial aggregate of node node-3 carries fencing token 3, not the leader's 4)" }]);
    expect([...s.collector.excused].sort()).toEqual(['site-d']);
  });

  it('a refused partial with a long reason: the reason is clipped in the round record', async () => {
    const s = await recordedAttempt();
    s.leader.onPartial(s.n2.message());
    const m = s.n3.message();
    expect(thrown(() => s.leader.onPartial({ ...m, runId: 'r'.repeat(256) })).code).toBe('stale_round');
    await s.attempt.close();
    const reason = s.collector.failed[0].reason;
    expect(reason.startsWith('node node-3 accepted the update but its partial aggregate was left out (stale_round: the message is of run rrrr')).toBe(true);
    expect(reason.length).toBeLessThanOrEqual(300 + 40);
  });

  it('a refused partial of a node not awaited (it recorded nothing, or its partial is in) changes nothing; a duplicate does not undo the merge', async () => {
    const s = await recordedAttempt({ partialWaitMs: 20 });
    s.leader.onPartial(s.n2.message());
    expect(thrown(() => s.leader.onPartial(s.n2.message())).code).toBe('duplicate_result');
    expect(thrown(() => s.leader.onPartial({ ...s.n2.message(), node: 'node-4' })).code).toBe('malformed_payload');
    expect(thrown(() => s.leader.onPartial('junk')).code).toBe('malformed_payload');
    await s.attempt.close();
    expect(s.collector.failed.map((f) => [f.siteId, f.reason])).toEqual([['site-c', 'node node-3 accepted the update but its partial aggregate was left out (no partial aggregate within 20 ms)']]);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([1, 2, 1]);
  });

  it('excuses: sites of a node due but never merged, and of a node never heard from; not of a node heard from whose sites were relayed', async () => {
    const s = leaderSetup({ partialWaitMs: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    // node-2: site-a recorded, partial never comes (due) → a and b excused, a also left out.
    s.leader.onRecord(recordOf('site-a', 10));
    // node-3: site-c relayed and refused by the leader (heard, nothing due) → not excused.
    s.collector.reject({ siteId: 'site-c', code: 'invalid_count', reason: 'x' });
    // node-4: nothing at all → excused.
    await attempt.close();
    expect([...s.collector.excused].sort()).toEqual(['site-b', 'site-d']);
    expect(s.collector.failed.map((f) => f.siteId)).toEqual(['site-a']);
  });

  it('a node heard from through a relayed answer, with its partial merged, has no excuse', async () => {
    const s = leaderSetup({ partialWaitMs: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    const n2 = folded('node-2', [['site-a', 10]]);
    s.leader.onRecord(n2.records[0]);
    s.leader.onPartial(n2.message());
    s.collector.reject({ siteId: 'site-c', code: 'invalid_count', reason: 'x' });
    await attempt.close();
    // site-b (node-2 merged) and site-c's node-3 (heard) are not excused; node-4 is.
    expect([...s.collector.excused]).toEqual(['site-d']);
    expect(s.logs).toEqual(['round 2 attempt 1: merged 1 partial aggregate(s) (1 site(s)) from node-2']);
  });

  it('nothing recorded and nothing merged: no log line', async () => {
    const s = leaderSetup({ partialWaitMs: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    await attempt.close();
    expect(s.logs).toEqual([]);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([0, 0, 0]);
  });

  it('a record during the wait counts (in flight at the close), once; its partial then merges', async () => {
    vi.useFakeTimers();
    const s = leaderSetup();
    const attempt = (await s.leader.beginAttempt(s.start))!;
    const n2 = folded('node-2', [['site-a', 10]]);
    const n3 = folded('node-3', [['site-c', 10]]);
    s.leader.onRecord(n2.records[0]);
    const closing = attempt.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.collector.closed).toBe(false);
    s.leader.onRecord(n3.records[0]);
    expect(s.leader.recordsAfterClose).toBe(1);
    s.leader.onPartial(n2.message());
    s.leader.onPartial(n3.message());
    await vi.advanceTimersByTimeAsync(0);
    await closing;
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.recordsAfterClose]).toEqual([2, 2, 1]);
    // (a + c) / 2
    expect(values(s.aggregator.finish().weights)).toEqual([[1.5, 2, 2.5], [3, 3.5]]);
  });

  it('counters add up over attempts', async () => {
    const s = await recordedAttempt({ partialWaitMs: 5 });
    s.leader.onPartial(s.n2.message());
    await s.attempt.close();
    const t = leaderSetup({ partialWaitMs: 5 });
    Object.assign(t.start, { aggregator: aggregatorOf(), collector: new RoundCollector(ROUND, new Set(SITES), 60_000) });
    t.start.collector.aggregator = t.start.aggregator;
    const second = (await s.leader.beginAttempt(t.start))!;
    const n2 = folded('node-2', [['site-a', 10]]);
    s.leader.onRecord(n2.records[0]);
    s.leader.onPartial(n2.message());
    await second.close();
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([2, 3, 1]);
  });
});

/** A follower node with in-memory loaders; `sent` holds what it emits to the other nodes. */
function followerSetup(node = 'node-2', over: { load?: (sha: string, maxBytes: number) => Promise<{ manifest: WeightsManifest; arrays: WeightArrays }>; loadVersion?: (v: number, sha: string, maxBytes: number) => Promise<{ manifest: WeightsManifest; arrays: WeightArrays }>; relay?: boolean } = {}) {
  const sent: Array<{ event: string; payload: Record<string, unknown> }> = [];
  const warnings: string[] = [];
  const relayed: Array<{ socket: string; message: { event: string; payload: unknown } }> = [];
  const loads: unknown[][] = [];
  const fence = new FencingTokens();
  const f = new FollowerPartialRounds({
    nodeId: node,
    loadWeights: over.load ?? (async (...args) => (loads.push(['sha256', ...args]), { manifest: MANIFEST, arrays: ZERO })),
    loadVersionWeights: over.loadVersion ?? (async (...args) => (loads.push(['version', ...args]), { manifest: MANIFEST, arrays: ZERO })),
    fence,
    emitToNodes: (event, payload) => sent.push({ event, payload: payload as Record<string, unknown> }),
    onWarning: (w) => warnings.push(w),
    recordBatchDelayMs: 60_000,
    ...(over.relay ? { relay: (l: SiteLink, message: { event: string; payload: unknown }) => relayed.push({ socket: l.id, message }) } : {}),
  });
  return { f, sent, warnings, relayed, loads, fence };
}

function planOf(over: Record<string, unknown> = {}) {
  return {
    node: 'node-1',
    runId: RUN,
    round: ROUND,
    attempt: 1,
    token: TOKEN,
    modelVersion: 3,
    weightsSha256: 'ab'.repeat(32),
    weightsFrom: 'sha256',
    sites: [
      { siteId: 'site-a', node: 'node-2', socket: socketOf('site-a'), announced: 20 },
      { siteId: 'site-b', node: 'node-2', socket: socketOf('site-b') },
      { siteId: 'site-c', node: 'node-3', socket: socketOf('site-c') },
    ],
    maxExamples: 1000,
    maxUpdateBytes: 1000,
    exampleCap: null,
    streamBound: null,
    ...over,
  };
}
const closeOf = (over: Record<string, unknown> = {}) => ({ node: 'node-1', runId: RUN, round: ROUND, attempt: 1, token: TOKEN, ...over });
const fitMessage = (siteId: string, n: number, over: Partial<FitResult> = {}) => ({ event: 'fitResult', payload: fit(siteId, n, over) });

describe('FollowerPartialRounds: the plan', () => {
  it('loads the global weights by sha256, or by model version, bounded at twice the largest update plus 1 MiB', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf());
    await s.f.onPlan(planOf({ attempt: 2, weightsFrom: 'version' }));
    expect(s.loads).toEqual([
      ['sha256', 'ab'.repeat(32), 2 * 1000 + 1024 * 1024],
      ['version', 3, 'ab'.repeat(32), 2 * 1000 + 1024 * 1024],
    ]);
  });

  it('refuses a malformed plan, saying where', async () => {
    const s = followerSetup();
    expect((await thrownAsync(() => s.f.onPlan('plan'))).message).toBe('not a round plan: (root): Invalid input: expected object, received string');
    expect((await thrownAsync(() => s.f.onPlan(planOf({ round: 0 })))).message).toMatch(/^not a round plan: round: /);
    expect(s.loads).toEqual([]);
  });

  it('ignores its own plan, one of a lower fencing token (keeping the attempt in progress), and one naming none of its sites', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf({ node: 'node-2' }));
    await s.f.onPlan(planOf({ sites: [{ siteId: 'site-c', node: 'node-3', socket: socketOf('site-c') }] }));
    expect(s.loads).toEqual([]);
    await s.f.onPlan(planOf());
    await s.f.onPlan(planOf({ token: TOKEN - 1, attempt: 2 }));
    expect(s.fence.staleIgnored).toBe(1);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
  });

  it('a plan that names none of its sites ends the attempt in progress (its records go first)', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    await s.f.onPlan(planOf({ attempt: 2, sites: [{ siteId: 'site-c', node: 'node-3', socket: socketOf('site-c') }] }));
    expect(s.sent.map((m) => m.event)).toEqual([CLUSTER_EVENTS.siteAcceptedBatch]);
    expect(s.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 10))).toBe(false);
    s.f.onClose(closeOf());
    expect(s.sent.map((m) => m.event)).toEqual([CLUSTER_EVENTS.siteAcceptedBatch]);
  });

  it('weights it cannot load: one warning (clipped at 300 characters), and it relays', async () => {
    const s = followerSetup('node-2', { load: () => Promise.reject(new Error('z'.repeat(400))) });
    await s.f.onPlan(planOf());
    expect(s.warnings).toEqual([`round 2: could not load the global weights for partial aggregation (${'z'.repeat(300)}… (100 more characters)); this node relays its sites' updates`]);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
    const t = followerSetup('node-2', { load: () => Promise.reject('gone') });
    await t.f.onPlan(planOf());
    expect(t.warnings).toEqual(["round 2: could not load the global weights for partial aggregation (gone); this node relays its sites' updates"]);
  });

  it('a plan overtaken during its load by a leader of a higher token is dropped', async () => {
    let release!: () => void;
    const s = followerSetup('node-2', { load: () => new Promise((r) => (release = () => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const loading = s.f.onPlan(planOf());
    s.fence.observe(TOKEN + 1);
    release();
    await loading;
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
  });

  it('a plan overtaken during its load by one naming none of its sites is dropped', async () => {
    let release!: () => void;
    const s = followerSetup('node-2', { load: () => new Promise((r) => (release = () => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const loading = s.f.onPlan(planOf());
    await s.f.onPlan(planOf({ attempt: 2, sites: [{ siteId: 'site-c', node: 'node-3', socket: socketOf('site-c') }] }));
    release();
    await loading;
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
  });

  it('a plan overtaken during its load by another plan is dropped; the later one is folded', async () => {
    const releases: Array<() => void> = [];
    const s = followerSetup('node-2', { load: () => new Promise((r) => void releases.push(() => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const first = s.f.onPlan(planOf());
    const second = s.f.onPlan(planOf({ attempt: 2 }));
    releases[1]();
    await second;
    releases[0]();
    await first;
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    s.f.onClose(closeOf({ attempt: 2 }));
    expect(s.sent.at(-1)!.payload).toMatchObject({ attempt: 2 });
  });

  it('the plan\'s checks apply: the example cap, the announcement, the update norm, the stream bound, the encoding', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf({ exampleCap: 15, maxUpdateNorm: 100, streamBound: normOf('site-a') }));
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 21))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(true);
    s.f.records.flush();
    expect((s.sent.at(-1)!.payload.records as SiteAcceptanceMessage[]).map((r) => [r.siteId, r.numExamples, r.effectiveExamples])).toEqual([['site-b', 30, 15]]);
    const t = followerSetup();
    await t.f.onPlan(planOf({ maxUpdateNorm: 1 }));
    expect(t.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(false);
    const u = followerSetup();
    await u.f.onPlan(planOf({ streamBound: 1 }));
    expect(u.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(false);
    const v = followerSetup();
    await v.f.onPlan(planOf({ updateEncoding: 'fp16' }));
    expect(v.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(false);
    // Without those bounds the same updates are folded, the claim counted whole.
    const w = followerSetup();
    await w.f.onPlan(planOf());
    expect(w.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 20))).toBe(true);
    expect(w.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(true);
    w.f.records.flush();
    expect((w.sent.at(-1)!.payload.records as SiteAcceptanceMessage[]).map((r) => [r.siteId, r.effectiveExamples])).toEqual([['site-a', 20], ['site-b', 30]]);
  });
});

describe('FollowerPartialRounds: what it folds, and its partial at the close', () => {
  it('folds its sites, sends their records in one batch before its partial, and the leader merges the exact sum', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    expect(s.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(true);
    expect(s.f.folded).toBe(2);
    expect(s.sent).toEqual([]);
    s.f.onClose(closeOf());
    expect(s.sent.map((m) => m.event)).toEqual([CLUSTER_EVENTS.siteAcceptedBatch, CLUSTER_EVENTS.partial]);
    expect(s.sent[0].payload.node).toBe('node-2');
    expect(s.sent[1].payload).toMatchObject({ node: 'node-2', runId: RUN, round: ROUND, attempt: 1, token: TOKEN, partial: { sites: [{ siteId: 'site-a', numExamples: 10 }, { siteId: 'site-b', numExamples: 30 }], totalExamples: 40 } });
    expect(s.f.partialsSent).toBe(1);
    const ledger = new ClusterPartialLedger({ runId: RUN, round: ROUND, attempt: 1, selected: new Set(SITES) }, aggregatorOf());
    for (const r of s.sent[0].payload.records as unknown[]) ledger.record(r);
    ledger.merge(s.sent[1].payload);
    expect(ledger.accepted().map((r) => r.siteId)).toEqual(['site-a', 'site-b']);
  });

  it('relays what is not its own to decide: another event, socket, site, run or round, a refused update, and that site afterwards', async () => {
    const s = followerSetup();
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
    await s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), { event: 'evaluateResult', payload: fit('site-a', 10) })).toBe(false);
    expect(s.f.intercept(link('sock-other'), fitMessage('site-a', 10))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-c')), fitMessage('site-c', 10))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-b', 10, { siteId: 'site-b' }))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10, { runId: 'run-y' }))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10, { round: 3 }))).toBe(false);
    expect(s.f.folded).toBe(0);
    // More than it announced (20): the leader decides, and decides every later result of that site too.
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 21))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 10))).toBe(true);
    expect(s.f.folded).toBe(1);
  });

  it('the close: refused when malformed; ignored when its own, of a lower token, or of another attempt; no partial when nothing was folded; once', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf());
    s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10));
    expect((await thrownAsync(async () => s.f.onClose({ ...closeOf(), extra: 1 }))).message).toMatch(/^not a round close: \(root\): /);
    expect((await thrownAsync(async () => s.f.onClose(closeOf({ token: 0 })))).message).toMatch(/^not a round close: token: /);
    s.f.onClose(closeOf({ node: 'node-2' }));
    s.f.onClose(closeOf({ token: TOKEN - 1 }));
    s.f.onClose(closeOf({ attempt: 2 }));
    s.f.onClose(closeOf({ round: 3 }));
    s.f.onClose(closeOf({ runId: 'run-y' }));
    expect(s.sent).toEqual([]);
    s.f.onClose(closeOf());
    s.f.onClose(closeOf());
    expect(s.sent.map((m) => m.event)).toEqual([CLUSTER_EVENTS.siteAcceptedBatch, CLUSTER_EVENTS.partial]);
    expect(s.f.partialsSent).toBe(1);
    const t = followerSetup();
    await t.f.onPlan(planOf());
    t.f.onClose(closeOf());
    expect(t.sent).toEqual([]);
    expect(t.f.partialsSent).toBe(0);
  });

  it('a close of another token (a new leader that has not planned this attempt itself) sends nothing: its ledger awaits no partial of this node', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf());
    s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10));
    s.f.onClose(closeOf({ token: TOKEN + 1 }));
    expect(s.sent.filter((m) => m.event === CLUSTER_EVENTS.partial)).toEqual([]);
  });
});

describe('FollowerPartialRounds: results held while the weights load', () => {
  it('held, then folded once loaded; a second result of the same socket is not held', async () => {
    let release!: () => void;
    const s = followerSetup('node-2', { relay: true, load: () => new Promise((r) => (release = () => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const loading = s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-b')), { event: 'heartbeat', payload: {} })).toBe(false);
    expect(s.f.intercept(link(socketOf('site-c')), fitMessage('site-c', 10))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(true);
    expect(s.f.heldWhileLoading).toBe(2);
    release();
    await loading;
    expect([s.f.folded, s.f.heldThenRelayed]).toEqual([2, 0]);
    expect(s.relayed).toEqual([]);
  });

  it('held results are relayed when the load fails, when the close overtakes it, or a new plan supersedes it; never twice', async () => {
    for (const end of ['fails', 'closed', 'superseded', 'fenced'] as const) {
      let release!: () => void;
      const s = followerSetup('node-2', { relay: true, load: () => new Promise((r, j) => (release = () => (end === 'fails' ? j(new Error('gone')) : r({ manifest: MANIFEST, arrays: ZERO })))) });
      const loading = s.f.onPlan(planOf());
      const message = fitMessage('site-a', 10);
      expect(s.f.intercept(link(socketOf('site-a')), message)).toBe(true);
      if (end === 'closed') s.f.onClose(closeOf());
      if (end === 'superseded') void s.f.onPlan(planOf({ attempt: 2, sites: [] }));
      if (end === 'fenced') s.fence.observe(TOKEN + 1);
      release();
      await loading;
      expect(s.relayed, end).toEqual([{ socket: socketOf('site-a'), message }]);
      expect([s.f.heldThenRelayed, s.f.folded], end).toEqual([1, 0]);
      expect(s.f.intercept(link(socketOf('site-b')), fitMessage('site-b', 10)), end).toBe(false);
    }
  });

  it('a close of another attempt during the load does not release what is held', async () => {
    let release!: () => void;
    const s = followerSetup('node-2', { relay: true, load: () => new Promise((r) => (release = () => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const loading = s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    s.f.onClose(closeOf({ attempt: 2 }));
    expect(s.relayed).toEqual([]);
    release();
    await loading;
    expect(s.f.folded).toBe(1);
  });

  it('a held result the checks refuse is relayed once loaded', async () => {
    let release!: () => void;
    const s = followerSetup('node-2', { relay: true, load: () => new Promise((r) => (release = () => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const loading = s.f.onPlan(planOf());
    const message = fitMessage('site-a', 21);
    s.f.intercept(link(socketOf('site-a')), message);
    release();
    await loading;
    expect(s.relayed).toEqual([{ socket: socketOf('site-a'), message }]);
    expect([s.f.heldThenRelayed, s.f.folded]).toEqual([1, 0]);
  });

  it('without a relay nothing is held', async () => {
    let release!: () => void;
    const s = followerSetup('node-2', { load: () => new Promise((r) => (release = () => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const loading = s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
    release();
    await loading;
    expect(s.f.heldWhileLoading).toBe(0);
  });
});

describe('a round across nodes, end to end in memory', () => {
  it('leader plan → followers fold → records → close → partials: the exact weighted average, each site once', async () => {
    const s = leaderSetup({ partialWaitMs: 50 });
    s.start.selected = ['site-a', 'site-b', 'site-c', 'site-l'];
    const attempt = (await s.leader.beginAttempt(s.start))!;
    const plan = s.sent[0].payload;
    const nodes = { 'node-2': followerSetup('node-2'), 'node-3': followerSetup('node-3') };
    for (const n of Object.values(nodes)) await n.f.onPlan(plan);
    expect(nodes['node-2'].f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    expect(nodes['node-2'].f.intercept(link(socketOf('site-b')), fitMessage('site-b', 30))).toBe(true);
    expect(nodes['node-3'].f.intercept(link(socketOf('site-c')), fitMessage('site-c', 48))).toBe(true);
    s.collector.accept({ siteId: 'site-l', weights: arraysOf('site-l'), numExamples: 40, effectiveExamples: 40, norm: normOf('site-l'), metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 });
    for (const n of Object.values(nodes)) {
      n.f.records.flush();
      for (const m of n.sent.splice(0)) s.leader.onRecordBatch(m.payload);
    }
    // site-d (node-4, not planned) never answers: the round's collection ends at its deadline.
    s.collector.finish();
    const closing = attempt.close();
    for (const n of Object.values(nodes)) {
      n.f.onClose(s.sent.at(-1)!.payload);
      for (const m of n.sent.splice(0)) s.leader.onPartial(m.payload);
    }
    await closing;
    const out = s.aggregator.finish();
    expect(values(out.weights)).toEqual(SUM_ABCL);
    expect(out.totalExamples).toBe(128);
    expect(out.siteIds).toEqual(['site-a', 'site-b', 'site-c', 'site-l']);
    expect(s.collector.failed).toEqual([]);
  });
});

describe('edge cases of the wait, the refusals and duplicate plans', () => {
  it('a refusal that comes during the wait ends it at once, and the wait leaves no timer behind', async () => {
    vi.useFakeTimers();
    const s = await recordedAttempt();
    s.leader.onPartial(s.n2.message());
    const timersBefore = vi.getTimerCount();
    let done = false;
    const closing = s.attempt.close().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    expect(vi.getTimerCount()).toBe(timersBefore + 1);
    expect(thrown(() => s.leader.onPartial({ ...s.n3.message(), attempt: 2 })).code).toBe('stale_round');
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    await closing;
    expect(vi.getTimerCount()).toBe(timersBefore);
    expect(s.collector.failed.map((f) => f.reason)).toEqual(['node node-3 accepted the update but its partial aggregate was left out (stale_round: the message is of round 2 attempt 2, not round 2 attempt 1)']);
  });

  it('a node refused twice keeps the first refusal as its reason', async () => {
    const s = await recordedAttempt();
    s.leader.onPartial(s.n2.message());
    expect(thrown(() => s.leader.onPartial({ ...s.n3.message(), token: 3 })).code).toBe('stale_leader');
    expect(thrown(() => s.leader.onPartial({ ...s.n3.message(), attempt: 2 })).code).toBe('stale_round');
    await s.attempt.close();
    expect(s.collector.failed.map((f) => f.reason)).toEqual(["node node-3 accepted the update but its partial aggregate was left out (stale_leader: the partial aggregate of node node-3 carries fencing token 3, not the leader's 4)"]);
  });

  it('a node that recorded nothing but sent an (empty) partial was heard: its silent sites are not excused', async () => {
    const s = leaderSetup({ partialWaitMs: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    s.leader.onPartial(folded('node-4', []).message());
    await attempt.close();
    expect([...s.collector.excused].sort()).toEqual(['site-a', 'site-b', 'site-c']);
  });

  it('storing the weights failing with no error object: the log says what was thrown', async () => {
    const s = leaderSetup({ store: () => Promise.reject(null) });
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.logs).toEqual(["round 2: the global weights could not be stored for the followers ((null)); their sites' updates are relayed"]);
  });

  it('loading the weights failing with no error object: the warning says what was thrown', async () => {
    const s = followerSetup('node-2', { load: () => Promise.reject(undefined) });
    await s.f.onPlan(planOf());
    expect(s.warnings).toEqual(["round 2: could not load the global weights for partial aggregation ((undefined)); this node relays its sites' updates"]);
  });

  it('the same plan delivered twice while its weights load: the attempt folded after the first load is kept', async () => {
    const releases: Array<() => void> = [];
    const s = followerSetup('node-2', { load: () => new Promise((r) => void releases.push(() => r({ manifest: MANIFEST, arrays: ZERO }))) });
    const first = s.f.onPlan(planOf());
    const second = s.f.onPlan(planOf());
    releases[0]();
    await first;
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
    releases[1]();
    await second;
    s.f.onClose(closeOf());
    expect(s.sent.map((m) => m.event)).toEqual([CLUSTER_EVENTS.siteAcceptedBatch, CLUSTER_EVENTS.partial]);
    expect(s.sent[1].payload).toMatchObject({ partial: { sites: [{ siteId: 'site-a', numExamples: 10 }] } });
  });
});

describe('the ledger\'s lists are in a stable order, whatever order the records came in', () => {
  it('awaited nodes in node-id order; accepted and unmerged sites in site-id order', () => {
    const ledger = new ClusterPartialLedger({ runId: RUN, round: ROUND, attempt: 1, selected: new Set(SITES) }, aggregatorOf());
    const n2 = folded('node-2', [['site-b', 30], ['site-a', 10]]);
    for (const r of [...folded('node-4', [['site-d', 5]]).records, ...folded('node-3', [['site-c', 48]]).records, ...n2.records]) ledger.record(r);
    expect(ledger.awaited).toEqual(['node-2', 'node-3', 'node-4']);
    expect(ledger.unmerged().map((r) => r.siteId)).toEqual(['site-a', 'site-b', 'site-c', 'site-d']);
    ledger.merge(n2.message());
    expect(ledger.accepted().map((r) => r.siteId)).toEqual(['site-a', 'site-b']);
    expect(ledger.unmerged().map((r) => r.siteId)).toEqual(['site-c', 'site-d']);
  });
});

describe('a refusal takes out only a node whose partial is due', () => {
  it('a node refused before it recorded any site is awaited once it records one: its partial then merges', async () => {
    vi.useFakeTimers();
    const s = await recordedAttempt();
    const n4 = folded('node-4', [['site-d', 16]]);
    // node-4 has no site recorded yet: its partial holding site-d is refused, and changes nothing.
    expect(thrown(() => s.leader.onPartial(n4.message())).code).toBe('malformed_payload');
    s.leader.onPartial(s.n2.message());
    let done = false;
    const closing = s.attempt.close().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(10);
    s.leader.onRecord(n4.records[0]);
    s.leader.onPartial(s.n3.message());
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    s.leader.onPartial({ ...n4.message() });
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    await closing;
    expect(s.collector.failed).toEqual([]);
    expect([...s.collector.accepted.keys()].sort()).toEqual(SITES);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([3, 4, 0]);
  });
});

describe('what the survivors of a first mutation run showed untested', () => {
  it('a plan names no announcement for a site that announced none (msgpack would carry undefined as null)', async () => {
    const s = leaderSetup({ site: (id) => (id === 'site-a' ? { link: link(socketOf(id), 'node-2'), termsAccepted: true } : undefined) });
    await s.leader.beginAttempt(s.start);
    const [site] = s.sent[0].payload.sites as Array<Record<string, unknown>>;
    expect(Object.keys(site).sort()).toEqual(['node', 'siteId', 'socket']);
  });

  it('a malformed record says where, nested paths dotted', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    expect(thrown(() => s.leader.onRecord({ ...recordOf('site-a', 10), metrics: { loss: 'x', accuracy: 1 } })).message).toMatch(/^not a site acceptance record: metrics\.loss: /);
    const ledger = new ClusterPartialLedger({ runId: RUN, round: ROUND, attempt: 1, selected: new Set(SITES) }, aggregatorOf());
    expect(thrown(() => ledger.record({ ...recordOf('site-a', 10), metrics: { loss: 'x', accuracy: 1 } })).message).toMatch(/^not a site acceptance record: metrics\.loss: /);
    const f = followerSetup();
    expect((await thrownAsync(() => f.f.onPlan(planOf({ sites: [{ siteId: 'site-a', node: 'node-2', socket: 7 }] })))).message).toMatch(/^not a round plan: sites\.0\.socket: /);
  });

  it('a partial whose site list is not a list is refused without reading it (a two-character string too)', () => {
    const ledger = new ClusterPartialLedger({ runId: RUN, round: ROUND, attempt: 1, selected: new Set(SITES) }, aggregatorOf());
    const n2 = folded('node-2', [['site-a', 10], ['site-b', 30]]);
    for (const r of n2.records) ledger.record(r);
    const m = n2.message();
    expect(thrown(() => ledger.merge({ ...m, partial: { ...m.partial, sites: 'ab' } })).code).toBe('malformed_payload');
    expect(thrown(() => ledger.merge({ ...m, partial: { ...m.partial, sites: { length: 2 } } })).code).toBe('malformed_payload');
    expect(thrown(() => ledger.merge({ ...m, partial: undefined })).code).toBe('malformed_payload');
  });

  it('a site the leader holds for the norm bound (accepted, not in the sum) is a duplicate too', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    s.collector.streamBound = 1;
    s.collector.accept({ siteId: 'site-a', weights: arraysOf('site-a'), numExamples: 10, effectiveExamples: 10, norm: 5, metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 });
    expect(s.aggregator.siteIds.has('site-a')).toBe(false);
    expect(thrownCodeAndMessage(() => s.leader.onRecord(recordOf('site-a', 10)))).toEqual({ code: 'duplicate_result', message: 'site site-a is already accepted in round 2' });
  });

  it('a node heard from through one relayed answer: its other silent site is not excused', async () => {
    const s = leaderSetup({ partialWaitMs: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    s.collector.reject({ siteId: 'site-a', code: 'invalid_count', reason: 'x' });
    await attempt.close();
    expect([...s.collector.excused].sort()).toEqual(['site-c', 'site-d']);
  });

  it('the log names the merged nodes in node order, whatever their sites\' order', async () => {
    const swapped: Record<string, string> = { 'site-a': 'node-3', 'site-c': 'node-2' };
    const s = leaderSetup({ site: (id) => (id in swapped ? { link: link(socketOf(id), swapped[id]), termsAccepted: true } : undefined) });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    const n3 = folded('node-3', [['site-a', 10]]);
    const n2 = folded('node-2', [['site-c', 10]]);
    for (const n of [n3, n2]) s.leader.onRecord(n.records[0]);
    for (const n of [n3, n2]) s.leader.onPartial(n.message());
    await attempt.close();
    expect(s.logs).toEqual(['round 2 attempt 1: merged 2 partial aggregate(s) (2 site(s)) from node-2, node-3']);
  });

  it('a leader without a log, and a follower without a warning callback, still work', async () => {
    const s = leaderSetup({ store: () => Promise.reject(new Error('down')) });
    const quiet = new LeaderRoundPartials({ ...s.leader.options, log: undefined });
    expect(await quiet.beginAttempt(s.start)).toBeUndefined();
    const t = leaderSetup({ partialWaitMs: 5 });
    const quietToo = new LeaderRoundPartials({ ...t.leader.options, log: undefined });
    const attempt = (await quietToo.beginAttempt(t.start))!;
    quietToo.onRecord(recordOf('site-a', 10));
    await attempt.close();
    expect(quietToo.sitesLeftOut).toBe(1);
    const f = new FollowerPartialRounds({ nodeId: 'node-2', loadWeights: () => Promise.reject(new Error('gone')), loadVersionWeights: () => Promise.reject(new Error('gone')), fence: new FencingTokens(), emitToNodes: () => {} });
    await f.onPlan(planOf());
    expect(f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(false);
  });

  it('a result of another run or round does not stop the site\'s own result from being folded', async () => {
    const s = followerSetup();
    await s.f.onPlan(planOf());
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10, { round: 1 }))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10, { runId: 'run-old' }))).toBe(false);
    expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10))).toBe(true);
  });

  it('a superseded plan\'s load ending (well or not) leaves what the newer plan holds alone', async () => {
    for (const outcome of ['loads', 'fails'] as const) {
      const releases: Array<() => void> = [];
      let calls = 0;
      const s = followerSetup('node-2', {
        relay: true,
        load: () => {
          const failing = outcome === 'fails' && calls++ === 0;
          return new Promise((r, j) => void releases.push(() => (failing ? j(new Error('gone')) : r({ manifest: MANIFEST, arrays: ZERO }))));
        },
      });
      const first = s.f.onPlan(planOf());
      const second = s.f.onPlan(planOf({ attempt: 2 }));
      expect(s.f.intercept(link(socketOf('site-a')), fitMessage('site-a', 10)), outcome).toBe(true);
      releases[0]();
      await first;
      expect(s.relayed, outcome).toEqual([]);
      releases[1]();
      await second;
      expect([s.f.folded, s.f.heldThenRelayed], outcome).toEqual([1, 0]);
    }
  });
});
