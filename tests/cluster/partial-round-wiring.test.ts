import { describe, expect, it } from 'vitest';
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { decodeWeights, encodeWeights, FedtuneError, type FitResult, type SiteLink, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import { parseRunConfig } from '@fedtune/coordinator';
import { StreamingFedAvgAggregator } from '../../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { RoundCollector } from '../../coordinator/src/engine/round-collector.ts';
import { UpdateGuard } from '../../coordinator/src/engine/update-guard.ts';
import type { EngineEvent } from '../../coordinator/src/engine/engine-types.ts';
import type { RemotePartialsAttemptStart } from '../../coordinator/src/engine/remote-partials.ts';
import { CLUSTER_EVENTS } from '../../coordinator/src/cluster/cluster-messages.ts';
import { FollowerPartialRounds } from '../../coordinator/src/cluster/follower-partial-rounds.ts';
import { LeaderRoundPartials } from '../../coordinator/src/cluster/leader-round-partials.ts';
import { FencingTokens } from '../../coordinator/src/cluster/fencing-check.ts';
import { sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';

const MANIFEST: WeightsManifest = [
  { name: 'w', shape: [3], dtype: 'float32' },
  { name: 'b', shape: [2], dtype: 'float32' },
];
const LENGTHS = [3, 2];
const GLOBAL: WeightArrays = [new Float32Array([0.5, -0.25, 1]), new Float32Array([2, -1])];
const GLOBAL_BYTES = encodeWeights({ manifest: MANIFEST, arrays: GLOBAL });
const RUN = 'run-a';
/** site-01..04 on node-2, site-05..06 on node-3, site-07 on the leader itself. */
const HOLDERS: Record<string, string | undefined> = { 'site-01': 'node-2', 'site-02': 'node-2', 'site-03': 'node-2', 'site-04': 'node-2', 'site-05': 'node-3', 'site-06': 'node-3', 'site-07': undefined };
const SITES = Object.keys(HOLDERS);
const socketOf = (siteId: string) => `sock-${siteId}`;
/** The leader's fencing token in these tests. */
const TOKEN = 3;

/** Site k's update: the global weights moved by small, awkward amounts (so float order would show). */
function weightsOf(k: number, scale = 1): WeightArrays {
  return GLOBAL.map((g, t) => g.map((v, i) => v + scale * Math.fround(0.1 / (k + 3 + i + t)) * (k % 2 === 0 ? 1 : -1)));
}
function fitResult(siteId: string, over: Partial<FitResult> = {}, scale = 1): FitResult {
  const k = SITES.indexOf(siteId);
  return { runId: RUN, round: 2, siteId, weights: encodeWeights({ manifest: MANIFEST, arrays: weightsOf(k, scale) }), numExamples: 10 + k, metrics: { loss: 0.5, accuracy: 0.8 }, durationMs: 12, ...over };
}
const bits = (w: WeightArrays) => w.map((t) => [...new Uint32Array(new Float32Array(t).buffer)]);
async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as FedtuneError).code;
  }
  return 'none';
}
const link = (id: string, node?: string) => ({ id, node, closed: false }) as unknown as SiteLink & { node?: string };

/** The messages of an in-memory "Redis": every node sees every emit (like serverSideEmit), in order, msgpack-encoded as the streams adapter sends them (binary stays binary). */
function bus() {
  const sent: Array<{ from: string; event: string; payload: unknown }> = [];
  return { sent, emitFrom: (from: string) => (event: string, payload: unknown) => sent.push({ from, event, payload: msgpackDecode(msgpackEncode(payload)) }) };
}

function leaderSetup(over: { normBoundMultiple?: number; previousMedianNorm?: number; exampleWeightCap?: number; store?: (b: Uint8Array) => Promise<string>; partialWaitMs?: number; config?: Record<string, unknown>; token?: number; publishVersion?: (version: number, bytes: Uint8Array) => Promise<string>; redisReady?: () => boolean } = {}) {
  const config = parseRunConfig({ runId: RUN, rounds: 3, minSites: 1, maxExamplesPerSite: 1000, roundTimeoutMs: 60_000, ...over.config });
  const aggregator = new StreamingFedAvgAggregator(LENGTHS);
  aggregator.begin({ runId: RUN, round: 2, attempt: 1, global: GLOBAL, strategyState: undefined, selected: SITES.length });
  const collector = new RoundCollector(2, new Set(SITES), 60_000);
  collector.aggregator = aggregator;
  const guard = new UpdateGuard({ normBoundMultiple: over.normBoundMultiple ?? 5, exampleWeightCap: over.exampleWeightCap ?? 0, previousMedianNorm: over.previousMedianNorm ?? 1, announced: SITES.map((_, k) => 10 + k) });
  const events: EngineEvent[] = [];
  const logs: string[] = [];
  const b = bus();
  const stored: Uint8Array[] = [];
  const leader = new LeaderRoundPartials({
    nodeId: 'node-1',
    storeWeights: over.store ?? (async (bytes) => (stored.push(bytes), sha256OfBytes(bytes))),
    emitToNodes: b.emitFrom('node-1'),
    remoteOf: (l) => ((l as { node?: string }).node ? { node: (l as { node?: string }).node!, socket: l.id } : undefined),
    partialWaitMs: over.partialWaitMs ?? 60_000,
    storeTimeoutMs: 200,
    leaderToken: () => over.token ?? TOKEN,
    ...(over.publishVersion ? { publishVersion: over.publishVersion } : {}),
    ...(over.redisReady ? { redisReady: over.redisReady } : {}),
    log: (line) => logs.push(line),
  });
  const start: RemotePartialsAttemptStart = {
    config: { ...config, maxUpdateBytes: 1 << 20 },
    round: 2,
    attempt: 1,
    selected: SITES,
    modelVersion: 1,
    weightsBytes: GLOBAL_BYTES,
    aggregator,
    collector,
    guard,
    site: (id) => (id in HOLDERS ? { link: link(socketOf(id), HOLDERS[id]), numExamples: 100, termsAccepted: true } : undefined),
    emit: (e) => events.push(e),
  };
  return { config, aggregator, collector, guard, events, logs, bus: b, stored, leader, start };
}

function followerFor(node: string, b: ReturnType<typeof bus>, load?: (sha: string) => Promise<{ manifest: WeightsManifest; arrays: WeightArrays }>, loadVersion?: (version: number, sha: string, maxBytes: number) => Promise<{ manifest: WeightsManifest; arrays: WeightArrays }>) {
  const warnings: string[] = [];
  const fence = new FencingTokens();
  const f = new FollowerPartialRounds({
    nodeId: node,
    loadWeights: load ?? (async () => decodeWeights(GLOBAL_BYTES)),
    loadVersionWeights: loadVersion ?? (() => Promise.reject(new FedtuneError('not_found', 'no versions here'))),
    fence,
    emitToNodes: b.emitFrom(node),
    onWarning: (w) => warnings.push(w),
  });
  return { f, warnings, fence };
}

/** A valid acceptance record of `siteId`, as its follower makes it. */
async function recordOf(siteId: string, over: Record<string, unknown> = {}) {
  const s = leaderSetup();
  await s.leader.beginAttempt(s.start);
  const node = HOLDERS[siteId]!;
  const { f } = followerFor(node, s.bus);
  await f.onPlan(s.bus.sent[0].payload);
  expect(f.intercept(link(socketOf(siteId)), { event: 'fitResult', payload: fitResult(siteId) })).toBe(true);
  f.records.flush();
  const batch = s.bus.sent.at(-1)!;
  expect(batch.event).toBe(CLUSTER_EVENTS.siteAcceptedBatch);
  return { ...(batch.payload as { records: Array<Record<string, unknown>> }).records[0], ...over };
}

describe('the leader plans an attempt for the followers', () => {
  it('stores the global weights, then tells the followers the sites they hold (socket and announcement), the checks and the bounds', async () => {
    const s = leaderSetup({ exampleWeightCap: 2, config: { maxUpdateNorm: 7 } });
    s.start.config = { ...s.start.config, train: { ...s.start.config.train, updateEncoding: 'fp16' } };
    const attempt = await s.leader.beginAttempt(s.start);
    expect(attempt).toBeDefined();
    expect(s.stored).toEqual([GLOBAL_BYTES]);
    expect(s.bus.sent).toHaveLength(1);
    expect(s.bus.sent[0].event).toBe(CLUSTER_EVENTS.roundPlan);
    expect(s.bus.sent[0].payload).toEqual({
      node: 'node-1',
      runId: RUN,
      round: 2,
      attempt: 1,
      token: TOKEN,
      modelVersion: 1,
      weightsSha256: sha256OfBytes(GLOBAL_BYTES),
      weightsFrom: 'sha256',
      sites: SITES.filter((id) => HOLDERS[id]).map((siteId) => ({ siteId, node: HOLDERS[siteId], socket: socketOf(siteId), announced: 100 })),
      maxExamples: 1000,
      maxUpdateBytes: 1 << 20,
      maxUpdateNorm: 7,
      updateEncoding: 'fp16',
      // 2 × the lower median of the announced 10..16 (13) = 26; 5 × the previous median 1.
      exampleCap: 26,
      streamBound: 5,
    });
  });

  it('no cap and no norm bound are sent as null; no maxUpdateNorm or encoding when the run has none', async () => {
    const s = leaderSetup({ normBoundMultiple: 0 });
    await s.leader.beginAttempt(s.start);
    const plan = s.bus.sent[0].payload as Record<string, unknown>;
    expect(plan.exampleCap).toBeNull();
    expect(plan.streamBound).toBeNull();
    expect('maxUpdateNorm' in plan).toBe(false);
    expect('updateEncoding' in plan).toBe(false);
  });

  it.each([
    ['no site is on another node', (s: ReturnType<typeof leaderSetup>) => (s.start.selected = ['site-07'])],
    ['the remote sites have not accepted the terms', (s: ReturnType<typeof leaderSetup>) => (s.start.site = (id) => ({ link: link(socketOf(id), HOLDERS[id]), termsAccepted: false }))],
    ['the remote sites left', (s: ReturnType<typeof leaderSetup>) => (s.start.site = (id) => ({ link: { ...link(socketOf(id), HOLDERS[id]), closed: true } as SiteLink, termsAccepted: true }))],
  ])('nothing is planned when %s: every update reaches the engine as before', async (_why, change) => {
    const s = leaderSetup();
    change(s);
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.bus.sent).toEqual([]);
  });

  it.each([
    ['fails', () => Promise.reject(new Error('READONLY'))],
    ['does not answer', () => new Promise<string>(() => {})],
  ])('when storing the weights %s, the attempt relays (no plan) and the node says why', async (_what, store) => {
    const s = leaderSetup({ store });
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.bus.sent).toEqual([]);
    expect(s.logs).toHaveLength(1);
    expect(s.logs[0]).toMatch(/^round 2: the global weights could not be stored for the followers \(.+\); their sites' updates are relayed$/);
  });
});

describe('the leader takes acceptance records and partials (hostile input refused with typed codes)', () => {
  it('a record counts the site as accepted in the round (not folded here), with its audit and result events', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const rec = await recordOf('site-02');
    s.leader.onRecord(rec);
    const u = s.collector.accepted.get('site-02')!;
    expect(u).toMatchObject({ siteId: 'site-02', weights: [], numExamples: 11, effectiveExamples: 11, held: false, bytes: rec.bytes, durationMs: 12 });
    expect(u.norm).toBe(rec.norm);
    expect(s.collector.answered.has('site-02')).toBe(true);
    expect(s.aggregator.siteIds.size).toBe(0);
    expect(s.events).toEqual([
      { type: 'update-received', round: 2, siteId: 'site-02', message: 'fitResult', sha256: rec.sha256, bytes: rec.bytes, numExamples: 11 },
      { type: 'result', round: 2, siteId: 'site-02', accepted: true },
    ]);
  });

  it('records and partials with no attempt in progress are stale', async () => {
    const s = leaderSetup();
    expect(await codeOf(() => s.leader.onRecord(recordOf('site-01')))).toBe('stale_round');
    expect(await codeOf(() => s.leader.onPartial({}))).toBe('stale_round');
  });

  const HOSTILE: Array<[string, string, (r: Record<string, unknown>) => Record<string, unknown>, ((s: ReturnType<typeof leaderSetup>) => void)?]> = [
    ['not an object', 'malformed_payload', () => 'x' as never],
    ['an extra field', 'malformed_payload', (r) => ({ ...r, extra: 1 })],
    ['a NaN norm', 'malformed_payload', (r) => ({ ...r, norm: Number.NaN })],
    ['a negative norm', 'malformed_payload', (r) => ({ ...r, norm: -1 })],
    ['a site id with a slash', 'malformed_payload', (r) => ({ ...r, siteId: '../x' })],
    ['a huge reason-free metrics object', 'malformed_payload', (r) => ({ ...r, metrics: { loss: 'x'.repeat(10_000) } })],
    ['a site of another node', 'not_selected', (r) => ({ ...r, node: 'node-3' })],
    ['a site not selected', 'not_selected', (r) => ({ ...r, siteId: 'site-99' })],
    ['a site on the leader itself', 'not_selected', (r) => ({ ...r, siteId: 'site-07' })],
    ['another run', 'stale_round', (r) => ({ ...r, runId: 'run-b' })],
    ['another round', 'stale_round', (r) => ({ ...r, round: 3 })],
    ['another attempt', 'stale_round', (r) => ({ ...r, attempt: 2 })],
    ['weighing more than it claims', 'invalid_count', (r) => ({ ...r, effectiveExamples: (r.numExamples as number) + 1 })],
    ['weighing less than the cap allows', 'invalid_count', (r) => ({ ...r, effectiveExamples: (r.numExamples as number) - 1 })],
    ['claiming more than the run allows', 'invalid_count', (r) => ({ ...r, numExamples: 1001, effectiveExamples: 1001 })],
    ['a norm above the stream bound (5 × 1)', 'update_norm', (r) => ({ ...r, norm: 5.000001 })],
    ['an update larger than allowed', 'payload_too_large', (r) => ({ ...r, bytes: (1 << 20) + 1 })],
    ['a site already accepted (relayed)', 'duplicate_result', (r) => r, (s) => s.collector.accept({ siteId: 'site-01', weights: weightsOf(0), numExamples: 10, effectiveExamples: 10, norm: 0.1, metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 })],
  ];
  it.each(HOSTILE)('a record with %s is refused (%s) and changes nothing', async (_what, code, change, before) => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    before?.(s);
    const acceptedBefore = s.collector.accepted.size;
    expect(await codeOf(async () => s.leader.onRecord(change(await recordOf('site-01'))))).toBe(code);
    expect(s.collector.accepted.size).toBe(acceptedBefore);
    expect(s.events.filter((e) => e.type === 'result')).toEqual([]);
  });

  it('a norm exactly at the stream bound is certain, and is taken', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    s.leader.onRecord({ ...(await recordOf('site-01')), norm: 5 });
    expect(s.collector.accepted.has('site-01')).toBe(true);
  });

  it('the same site twice is refused the second time (duplicate_result)', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const r = await recordOf('site-01');
    s.leader.onRecord(r);
    expect(await codeOf(() => s.leader.onRecord(r))).toBe('duplicate_result');
  });
});

/** Leader + two followers over the in-memory bus: each follower folds its sites, the leader merges at the close. */
async function clusterAttempt(options: { deliverPartialsOf?: string[]; tamper?: (node: string, m: Record<string, unknown>) => Record<string, unknown>; partialWaitMs?: number; holdRecordsOf?: string[] } = {}) {
  const s = leaderSetup({ partialWaitMs: options.partialWaitMs });
  const attempt = (await s.leader.beginAttempt(s.start))!;
  const followers = { 'node-2': followerFor('node-2', s.bus).f, 'node-3': followerFor('node-3', s.bus).f };
  for (const f of Object.values(followers)) await f.onPlan(s.bus.sent[0].payload);
  let seen = 1;
  /** Record batches held back (in flight): delivered after the round's collection closed, before the partials. */
  const held: unknown[] = [];
  /** Delivers every message emitted since the last call to the node it is for (records and partials to the leader). */
  const pump = () => {
    for (; seen < s.bus.sent.length; seen++) {
      const m = s.bus.sent[seen];
      if (m.event === CLUSTER_EVENTS.siteAcceptedBatch && !(options.holdRecordsOf ?? []).includes(m.from)) s.leader.onRecordBatch(m.payload);
      if (m.event === CLUSTER_EVENTS.siteAcceptedBatch && (options.holdRecordsOf ?? []).includes(m.from)) held.push(m.payload);
      if (m.event === CLUSTER_EVENTS.roundClose) for (const f of Object.values(followers)) f.onClose(m.payload);
      if (m.event === CLUSTER_EVENTS.partial && (options.deliverPartialsOf ?? ['node-2', 'node-3']).includes(m.from)) {
        const payload = options.tamper ? options.tamper(m.from, m.payload as Record<string, unknown>) : m.payload;
        try {
          s.leader.onPartial(payload);
        } catch {
          // refused: the attempt's close takes the node's sites out
        }
      }
    }
  };
  for (const siteId of SITES) {
    const holder = HOLDERS[siteId];
    if (holder) expect(followers[holder as 'node-2' | 'node-3'].intercept(link(socketOf(siteId)), { event: 'fitResult', payload: fitResult(siteId) })).toBe(true);
    else {
      const k = SITES.indexOf(siteId);
      s.collector.accept({ siteId, weights: weightsOf(k), numExamples: 10 + k, effectiveExamples: 10 + k, norm: 0.1, metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 });
    }
    pump();
  }
  // The followers' record batches go (their timer, or here at once), then the round's collection ends: when
  // a node's records are held back, at its timeout.
  for (const f of Object.values(followers)) f.records.flush();
  pump();
  if (held.length > 0) s.collector.finish();
  await s.collector.done;
  const closed = attempt.close();
  for (const b of held.splice(0)) s.leader.onRecordBatch(b);
  pump();
  await closed;
  return { ...s, followers };
}

function singleNode(siteIds: string[]) {
  const a = new StreamingFedAvgAggregator(LENGTHS);
  a.begin({ runId: RUN, round: 2, attempt: 1, global: GLOBAL, strategyState: undefined, selected: SITES.length });
  for (const id of siteIds) {
    const k = SITES.indexOf(id);
    a.add({ siteId: id, weights: weightsOf(k), numExamples: 10 + k });
  }
  return a.finish();
}

describe('a whole attempt: plan, records, close, partials, merge', () => {
  it('the merged aggregate is bit-identical to one node adding every update; every site counted once; one log line', async () => {
    const s = await clusterAttempt();
    expect([...s.collector.accepted.keys()].sort()).toEqual(SITES);
    expect(s.collector.failed).toEqual([]);
    const merged = s.aggregator.finish();
    const single = singleNode(SITES);
    expect(bits(merged.weights)).toEqual(bits(single.weights));
    expect(merged.siteIds).toEqual(SITES);
    expect(merged.totalExamples).toBe(single.totalExamples);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([2, 6, 0]);
    expect([s.followers['node-2'].folded, s.followers['node-2'].partialsSent, s.followers['node-3'].folded, s.followers['node-3'].partialsSent]).toEqual([4, 1, 2, 1]);
    expect(s.logs).toEqual(['round 2 attempt 1: merged 2 partial aggregate(s) (6 site(s)) from node-2, node-3']);
    // The partials crossed the bus with their sums as bytes (16 per parameter), not base64 text.
    const partials = s.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial).map((m) => (m.payload as { partial: { state: { sums: unknown } } }).partial.state.sums);
    expect(partials).toHaveLength(2);
    for (const sums of partials) expect(sums).toBeInstanceOf(Uint8Array);
    // The attempt is over: a late record or partial is stale.
    expect(await codeOf(() => s.leader.onPartial({}))).toBe('stale_round');
  });

  it('a follower whose partial never comes: its sites are taken out of the round and failed, the sum holds the rest, nothing twice', async () => {
    const s = await clusterAttempt({ deliverPartialsOf: ['node-2'], partialWaitMs: 20 });
    expect([...s.collector.accepted.keys()].sort()).toEqual(['site-01', 'site-02', 'site-03', 'site-04', 'site-07']);
    expect(s.collector.failed.map((f) => f.siteId)).toEqual(['site-05', 'site-06']);
    for (const f of s.collector.failed) expect(f.reason).toBe('node node-3 accepted the update but its partial aggregate was left out (no partial aggregate within 20 ms)');
    const merged = s.aggregator.finish();
    expect(bits(merged.weights)).toEqual(bits(singleNode(['site-01', 'site-02', 'site-03', 'site-04', 'site-07']).weights));
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut]).toEqual([1, 4, 2]);
    expect(s.logs).toEqual(['round 2 attempt 1: merged 1 partial aggregate(s) (4 site(s)) from node-2; left out 2 site(s) of node-3 (no partial)']);
    expect(s.events.filter((e) => e.type === 'result' && !e.accepted).map((e) => (e as { siteId: string; code?: string }).siteId + ':' + (e as { code?: string }).code)).toEqual(['site-05:transport', 'site-06:transport']);
  });

  it.each([
    ['a partial of other sites', (m: Record<string, unknown>) => ({ ...m, partial: { ...(m.partial as object), sites: [{ siteId: 'site-05', numExamples: 14 }, { siteId: 'site-07', numExamples: 16 }] } }), 'malformed_payload'],
    ['a partial with other weights', (m: Record<string, unknown>) => ({ ...m, partial: { ...(m.partial as object), sites: (m.partial as { sites: Array<{ siteId: string; numExamples: number }> }).sites.map((x) => ({ ...x, numExamples: x.numExamples + 1 })), totalExamples: (m.partial as { totalExamples: number }).totalExamples + 2 } }), 'malformed_payload'],
    ['a partial whose sums are not base64 of the layout', (m: Record<string, unknown>) => ({ ...m, partial: { ...(m.partial as object), state: { ...((m.partial as { state: object }).state), sums: 'AAAA' } } }), 'malformed_payload'],
    ['a partial of another attempt', (m: Record<string, unknown>) => ({ ...m, attempt: 2 }), 'stale_round'],
  ])('%s is refused: that node\'s sites are left out at once (the close does not wait), with the code in the record', async (_what, tamper, code) => {
    // A long wait: the close must not need it (the refused node is no longer awaited).
    const s = await clusterAttempt({ tamper: (node, m) => (node === 'node-3' ? tamper(m) : m), partialWaitMs: 60_000 });
    expect(s.collector.failed.map((f) => f.siteId)).toEqual(['site-05', 'site-06']);
    if (code !== 'stale_round') for (const f of s.collector.failed) expect(f.reason).toContain(`(${code}: `);
    expect(bits(s.aggregator.finish().weights)).toEqual(bits(singleNode(['site-01', 'site-02', 'site-03', 'site-04', 'site-07']).weights));
  }, 10_000);
});

describe('a follower folds its own sites for the attempt it was told', () => {
  async function planned(node = 'node-2', over: Record<string, unknown> = {}) {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f, warnings } = followerFor(node, s.bus);
    await f.onPlan({ ...(s.bus.sent[0].payload as object), ...over });
    return { s, f, warnings };
  }

  it.each([
    ['an extra field', { extra: 1 }],
    ['a weights hash that is not sha256', { weightsSha256: 'abc' }],
    ['an infinite stream bound', { streamBound: Number.POSITIVE_INFINITY }],
    ['a negative example cap', { exampleCap: -1 }],
    ['an unknown update encoding', { updateEncoding: 'int4' }],
    ['too many sites', { sites: Array.from({ length: 100_001 }, (_, i) => ({ siteId: `s${i}`, node: 'node-2', socket: `x${i}` })) }],
  ])('a plan with %s is refused (malformed_payload) and nothing is folded', async (_what, over) => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f } = followerFor('node-2', s.bus);
    expect(await codeOf(() => f.onPlan({ ...(s.bus.sent[0].payload as object), ...over }))).toBe('malformed_payload');
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('folds a fit result of its selected site on that site\'s socket: the leader gets a record with the update\'s hash, never the update', async () => {
    const { s, f } = await planned();
    const result = fitResult('site-01');
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: result })).toBe(true);
    expect(f.records.size).toBe(1);
    f.records.flush();
    const sent = s.bus.sent.at(-1)!;
    expect(sent.event).toBe(CLUSTER_EVENTS.siteAcceptedBatch);
    expect((sent.payload as { node: string; records: unknown[] }).node).toBe('node-2');
    expect((sent.payload as { records: unknown[] }).records).toHaveLength(1);
    expect((sent.payload as { records: unknown[] }).records[0]).toMatchObject({ node: 'node-2', runId: RUN, round: 2, attempt: 1, siteId: 'site-01', numExamples: 10, effectiveExamples: 10, sha256: sha256OfBytes(result.weights), bytes: result.weights.byteLength });
    expect(JSON.stringify(sent.payload)).not.toContain('weights');
    expect(f.folded).toBe(1);
  });

  it.each([
    ['another event', 'site-01', socketOf('site-01'), 'heartbeat', {}],
    ['another socket', 'site-01', 'sock-other', 'fitResult', {}],
    ['a site id not its socket\'s', 'site-02', socketOf('site-01'), 'fitResult', {}],
    ['a site of another node', 'site-05', socketOf('site-05'), 'fitResult', {}],
    ['another round', 'site-01', socketOf('site-01'), 'fitResult', { round: 3 }],
    ['another run', 'site-01', socketOf('site-01'), 'fitResult', { runId: 'run-b' }],
    ['an update the checks refuse', 'site-01', socketOf('site-01'), 'fitResult', { numExamples: 101 }],
  ])('%s is relayed, not folded', async (_what, siteId, socket, event, over) => {
    const { s, f } = await planned();
    const before = s.bus.sent.length;
    expect(f.intercept(link(socket), { event, payload: fitResult(siteId, over as Partial<FitResult>) })).toBe(false);
    expect(s.bus.sent.length).toBe(before);
    expect(f.folded).toBe(0);
  });

  it('an update above the stream bound is relayed (the leader holds it for the norm bound), and the site is never folded afterwards', async () => {
    const { f } = await planned();
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01', {}, 1000) })).toBe(false);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('without a plan, with a plan of its own, or one naming none of its sites, everything is relayed', async () => {
    const b = bus();
    const { f } = followerFor('node-2', b);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
    const { f: self } = await planned('node-1');
    expect(self.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
    const { f: none } = await planned('node-9');
    expect(none.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('weights it cannot load: it says so once and relays', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f, warnings } = followerFor('node-2', s.bus, () => Promise.reject(new FedtuneError('not_found', 'gone')));
    await f.onPlan(s.bus.sent[0].payload);
    expect(warnings).toEqual(["round 2: could not load the global weights for partial aggregation (gone); this node relays its sites' updates"]);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('a close that overtakes a slow load: the plan is dropped (nothing folded, nothing sent)', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    let release!: () => void;
    const { f } = followerFor('node-2', s.bus, () => new Promise((r) => (release = () => r(decodeWeights(GLOBAL_BYTES)))));
    const loading = f.onPlan(s.bus.sent[0].payload);
    f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    release();
    await loading;
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('the same attempt planned again after its close (a new leader resumed it): the new plan is folded', async () => {
    const { s, f } = await planned();
    f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    await f.onPlan(s.bus.sent[0].payload);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(true);
  });

  it('a close sends the partial once, only for its attempt and only when it folded a site; a malformed close is refused', async () => {
    const { s, f } = await planned();
    f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    expect(s.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial)).toEqual([]);
    const { s: s2, f: f2 } = await planned();
    f2.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') });
    f2.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 2, token: TOKEN });
    f2.onClose({ node: 'node-2', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    expect(s2.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial)).toEqual([]);
    expect(await codeOf(() => f2.onClose({ node: 'node-1', runId: RUN, round: 0, attempt: 1, token: TOKEN }))).toBe('malformed_payload');
    f2.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    f2.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    const partials = s2.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial);
    expect(partials).toHaveLength(1);
    expect(partials[0].payload).toMatchObject({ node: 'node-2', runId: RUN, round: 2, attempt: 1, token: TOKEN, partial: { kind: 'streaming-fedavg', sites: [{ siteId: 'site-01', numExamples: 10 }], count: 1 } });
    expect(f2.partialsSent).toBe(1);
    // After its close, the attempt folds nothing more.
    expect(f2.intercept(link(socketOf('site-02')), { event: 'fitResult', payload: fitResult('site-02') })).toBe(false);
  });
});

describe('fit results that come while the plan\'s weights load are held, then folded (or relayed as before)', () => {
  type Message = { event: string; payload: unknown };
  function slowFollower(s: ReturnType<typeof leaderSetup>, fail = false) {
    const releases: Array<() => void> = [];
    const relayed: Array<{ socket: string; message: Message }> = [];
    const f = new FollowerPartialRounds({
      nodeId: 'node-2',
      loadWeights: () => new Promise((resolve, reject) => void releases.push(() => (fail ? reject(new FedtuneError('not_found', 'gone')) : resolve(decodeWeights(GLOBAL_BYTES))))),
      loadVersionWeights: () => Promise.reject(new FedtuneError('not_found', 'no versions here')),
      fence: new FencingTokens(),
      emitToNodes: s.bus.emitFrom('node-2'),
      relay: (l, message) => relayed.push({ socket: l.id, message }),
    });
    return { f, relayed, release: () => releases.splice(0).forEach((r) => r()) };
  }

  it('held during the load, folded after it: the leader gets a record, never the update, and nothing is relayed', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f, relayed, release } = slowFollower(s);
    const loading = f.onPlan(s.bus.sent[0].payload);
    const result = fitResult('site-01');
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: result })).toBe(true);
    expect(f.folded).toBe(0);
    expect(f.heldWhileLoading).toBe(1);
    release();
    await loading;
    expect(f.folded).toBe(1);
    expect(relayed).toEqual([]);
    f.records.flush();
    expect((s.bus.sent.at(-1)!.payload as { records: unknown[] }).records[0]).toMatchObject({ siteId: 'site-01', sha256: sha256OfBytes(result.weights) });
  });

  it('a second result on the same socket, another socket, or another event while loading goes on at once (relayed by the transport)', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f, release } = slowFollower(s);
    const loading = f.onPlan(s.bus.sent[0].payload);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(true);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
    expect(f.intercept(link('sock-other'), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
    expect(f.intercept(link(socketOf('site-05')), { event: 'fitResult', payload: fitResult('site-05') })).toBe(false);
    expect(f.intercept(link(socketOf('site-01')), { event: 'heartbeat', payload: {} })).toBe(false);
    expect(f.heldWhileLoading).toBe(1);
    release();
    await loading;
    expect(f.folded).toBe(1);
  });

  it('held results are relayed, unchanged, when the load fails, when a close overtakes it, or when a new plan supersedes it', async () => {
    for (const end of ['load fails', 'close overtakes', 'new plan'] as const) {
      const s = leaderSetup();
      await s.leader.beginAttempt(s.start);
      const { f, relayed, release } = slowFollower(s, end === 'load fails');
      const loading = f.onPlan(s.bus.sent[0].payload).catch(() => undefined);
      const message = { event: 'fitResult', payload: fitResult('site-01') };
      expect(f.intercept(link(socketOf('site-01')), message), end).toBe(true);
      if (end === 'close overtakes') f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
      if (end === 'new plan') void f.onPlan({ ...(s.bus.sent[0].payload as object), attempt: 2 }).catch(() => undefined);
      if (end !== 'load fails') expect(relayed, end).toEqual([{ socket: socketOf('site-01'), message }]);
      release();
      await loading;
      expect(relayed, end).toEqual([{ socket: socketOf('site-01'), message }]);
      expect(f.heldThenRelayed, end).toBe(1);
      expect(f.folded, end).toBe(0);
    }
  });

  it('a held result the checks refuse is relayed after the load (the leader decides, as before)', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f, relayed, release } = slowFollower(s);
    const loading = f.onPlan(s.bus.sent[0].payload);
    const message = { event: 'fitResult', payload: fitResult('site-01', { numExamples: 101 }) };
    expect(f.intercept(link(socketOf('site-01')), message)).toBe(true);
    release();
    await loading;
    expect(relayed).toEqual([{ socket: socketOf('site-01'), message }]);
    expect(f.folded).toBe(0);
  });

  it('without a relay (a follower that cannot hold), results during the load go on at once', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    let release!: () => void;
    const { f } = followerFor('node-2', s.bus, () => new Promise((r) => (release = () => r(decodeWeights(GLOBAL_BYTES)))));
    const loading = f.onPlan(s.bus.sent[0].payload);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
    release();
    await loading;
    expect(f.heldWhileLoading).toBe(0);
  });
});

describe('the round collector counts updates folded elsewhere', () => {
  const folded = (siteId: string) => ({ siteId, weights: weightsOf(0), numExamples: 10, effectiveExamples: 8, norm: 0.5, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 3, bytes: 40 });

  it('acceptFolded: accepted without weights and not held, answered, never added to the aggregator; the last answer completes the round', async () => {
    const aggregator = new StreamingFedAvgAggregator(LENGTHS);
    aggregator.begin({ runId: RUN, round: 2, attempt: 1, global: GLOBAL, strategyState: undefined, selected: 2 });
    const c = new RoundCollector(2, new Set(['a', 'b']), 60_000);
    c.aggregator = aggregator;
    expect(c.acceptFolded(folded('a'))).toBe(true);
    expect(c.accepted.get('a')).toEqual({ ...folded('a'), weights: [], held: false });
    expect(c.answered).toEqual(new Set(['a']));
    expect(c.closed).toBe(false);
    expect(c.acceptFolded(folded('a'))).toBe(false);
    expect(c.acceptFolded(folded('b'))).toBe(true);
    await c.done;
    expect(c.closed).toBe(true);
    expect(aggregator.siteIds.size).toBe(0);
    expect(c.acceptFolded(folded('c'))).toBe(false);
    expect(c.accepted.has('c')).toBe(false);
  });

  it('leaveOut: an accepted site leaves `accepted` and is failed with the (clipped) reason; others are untouched', () => {
    const c = new RoundCollector(2, new Set(['a', 'b']), 60_000);
    c.acceptFolded(folded('a'));
    c.leaveOut('b', 'not accepted: nothing to leave out');
    expect(c.failed).toEqual([]);
    c.leaveOut('a', 'x'.repeat(5_000));
    expect(c.accepted.has('a')).toBe(false);
    expect(c.failed).toHaveLength(1);
    expect(c.failed[0].siteId).toBe('a');
    expect(c.failed[0].reason.length).toBeLessThan(5_000);
    c.finish();
  });
});

describe('records in flight at the close still count while the attempt merges (the late-record race)', () => {
  it('a node whose records reach the leader only after the round\'s collection closed: its sites are accepted, its partial merged, the sum bit-identical', async () => {
    const s = await clusterAttempt({ holdRecordsOf: ['node-3'], partialWaitMs: 60_000 });
    expect([...s.collector.accepted.keys()].sort()).toEqual(SITES);
    expect(s.collector.failed).toEqual([]);
    expect([s.leader.partialsMerged, s.leader.sitesMerged, s.leader.sitesLeftOut, s.leader.recordsAfterClose]).toEqual([2, 6, 0, 2]);
    // Their norms are in the round's accepted updates, so the norm median (settled after the merge) sees them.
    expect(s.collector.accepted.get('site-05')!.norm).toBeGreaterThan(0);
    expect(bits(s.aggregator.finish().weights)).toEqual(bits(singleNode(SITES).weights));
    expect(s.logs).toEqual(['round 2 attempt 1: merged 2 partial aggregate(s) (6 site(s)) from node-2, node-3']);
  });

  it('a record once the attempt is over (its partials merged, the aggregate finished) is stale and changes nothing', async () => {
    const s = await clusterAttempt();
    const late = await recordOf('site-05');
    const out = s.leader.onRecordBatch({ node: 'node-3', records: [late] });
    expect([out.applied, out.refused.map((e) => e.code)]).toEqual([0, ['stale_round']]);
    expect(s.leader.recordsAfterClose).toBe(0);
  });

  it('a record after the close for a site not selected, or one already accepted, is still refused with its code', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const rec = await recordOf('site-01');
    s.leader.onRecord(rec);
    s.collector.finish();
    expect(await codeOf(() => s.leader.onRecord(rec))).toBe('duplicate_result');
    expect(await codeOf(() => s.leader.onRecord({ ...rec, siteId: 'site-99' }))).toBe('not_selected');
    s.leader.onRecord(await recordOf('site-02'));
    expect(s.collector.accepted.has('site-02')).toBe(true);
    expect(s.collector.answered.has('site-02')).toBe(true);
    expect(s.leader.recordsAfterClose).toBe(1);
  });
});

describe('batches of acceptance records (hostile batches refused whole, hostile records one by one)', () => {
  it('a batch with good and bad records: the good ones count, each bad one is refused with its own code, in order', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const r1 = await recordOf('site-01');
    const r2 = await recordOf('site-02');
    const out = s.leader.onRecordBatch({
      node: 'node-2',
      records: [
        r1,
        { ...r2, norm: Number.NaN },
        { ...(await recordOf('site-05')), node: 'node-2' },
        { ...(await recordOf('site-05')) },
        r1,
        'not a record',
        r2,
      ],
    });
    expect(out.applied).toBe(2);
    expect(out.refused.map((e) => e.code)).toEqual(['malformed_payload', 'not_selected', 'malformed_payload', 'duplicate_result', 'malformed_payload']);
    expect(out.refused[2].message).toBe('a record of node node-3 in a batch of node node-2');
    expect([...s.collector.accepted.keys()].sort()).toEqual(['site-01', 'site-02']);
  });

  const MALFORMED_BATCHES: Array<[string, unknown]> = [
    ['not an object', 'x'],
    ['null', null],
    ['no records', { node: 'node-2' }],
    ['an empty list', { node: 'node-2', records: [] }],
    ['records that are not a list', { node: 'node-2', records: { 0: {} } }],
    ['257 records (above the bound)', { node: 'node-2', records: Array.from({ length: 257 }, () => ({})) }],
    ['an extra field', { node: 'node-2', records: [{}], extra: 1 }],
    ['a node id with a space', { node: 'node 2', records: [{}] }],
    ['a node id of 65 characters', { node: 'n'.repeat(65), records: [{}] }],
  ];
  it.each(MALFORMED_BATCHES)('a batch that is %s is refused whole (malformed_payload): nothing counted', async (_what, batch) => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    expect(await codeOf(() => s.leader.onRecordBatch(batch))).toBe('malformed_payload');
    expect(s.collector.accepted.size).toBe(0);
  });

  it('256 records (the bound) are read one by one: the real one counts, the 255 copies are duplicates', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const r = await recordOf('site-03');
    const out = s.leader.onRecordBatch({ node: 'node-2', records: Array.from({ length: 256 }, () => r) });
    expect(out.applied).toBe(1);
    expect(out.refused).toHaveLength(255);
    expect(new Set(out.refused.map((e) => e.code))).toEqual(new Set(['duplicate_result']));
  });

  it('a follower sends its records of several sites as one batch, and that batch before its partial', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const { f } = followerFor('node-2', s.bus);
    await f.onPlan(s.bus.sent[0].payload);
    const before = s.bus.sent.length;
    for (const id of ['site-01', 'site-02', 'site-03']) expect(f.intercept(link(socketOf(id)), { event: 'fitResult', payload: fitResult(id) })).toBe(true);
    expect(s.bus.sent.length).toBe(before);
    f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: TOKEN });
    const after = s.bus.sent.slice(before);
    expect(after.map((m) => m.event)).toEqual([CLUSTER_EVENTS.siteAcceptedBatch, CLUSTER_EVENTS.partial]);
    expect((after[0].payload as { records: Array<{ siteId: string }> }).records.map((r) => r.siteId)).toEqual(['site-01', 'site-02', 'site-03']);
    expect([f.records.batchesSent, f.records.recordsSent]).toEqual([1, 3]);
  });

  it('without a flush, the batch goes after the delay (recordBatchDelayMs)', async () => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const f = new FollowerPartialRounds({ nodeId: 'node-2', loadWeights: async () => decodeWeights(GLOBAL_BYTES), loadVersionWeights: () => Promise.reject(new FedtuneError('not_found', 'no versions here')), fence: new FencingTokens(), emitToNodes: s.bus.emitFrom('node-2'), recordBatchDelayMs: 1 });
    await f.onPlan(s.bus.sent[0].payload);
    f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') });
    f.intercept(link(socketOf('site-02')), { event: 'fitResult', payload: fitResult('site-02') });
    while (s.bus.sent.length === 1) await new Promise((r) => setTimeout(r, 2));
    expect(s.bus.sent.map((m) => m.event)).toEqual([CLUSTER_EVENTS.roundPlan, CLUSTER_EVENTS.siteAcceptedBatch]);
    expect((s.bus.sent[1].payload as { records: unknown[] }).records).toHaveLength(2);
  });
});
