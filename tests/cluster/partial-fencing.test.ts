import { describe, expect, it } from 'vitest';
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { decodeWeights, encodeWeights, FedtuneError, type FitResult, type SiteLink, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import { parseRunConfig } from '@fedtune/coordinator';
import { StreamingFedAvgAggregator } from '../../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { RoundCollector } from '../../coordinator/src/engine/round-collector.ts';
import { UpdateGuard } from '../../coordinator/src/engine/update-guard.ts';
import type { RemotePartialsAttemptStart } from '../../coordinator/src/engine/remote-partials.ts';
import { CLUSTER_EVENTS } from '../../coordinator/src/cluster/cluster-messages.ts';
import { checkFencingToken, FencingTokens } from '../../coordinator/src/cluster/fencing-check.ts';
import { FollowerPartialRounds } from '../../coordinator/src/cluster/follower-partial-rounds.ts';
import { LeaderRoundPartials } from '../../coordinator/src/cluster/leader-round-partials.ts';
import { globalWeightsForVersion } from '../../coordinator/src/cluster/global-weights-by-version.ts';
import { ROUND_WEIGHTS_STORE_TIMEOUT_MS } from '../../coordinator/src/cluster/round-weights-placement.ts';
import { RoundCloseMessage, RoundPlanMessage } from '../../coordinator/src/cluster/round-plan-messages.ts';
import { PartialMessage, SiteAcceptanceMessage } from '../../coordinator/src/cluster/partial-round-messages.ts';
import { sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';

/**
 * Fencing tokens on the partial-aggregate path (docs/cluster.md, "Fencing") and where the followers read an
 * attempt's global weights (stored once: the published model version under HTTP delivery; skipped at once
 * while Redis is known down). Leader and followers talk over an in-memory bus encoded like the adapter's.
 */
const MANIFEST: WeightsManifest = [
  { name: 'w', shape: [3], dtype: 'float32' },
  { name: 'b', shape: [2], dtype: 'float32' },
];
const GLOBAL: WeightArrays = [new Float32Array([0.5, -0.25, 1]), new Float32Array([2, -1])];
const GLOBAL_BYTES = encodeWeights({ manifest: MANIFEST, arrays: GLOBAL });
const RUN = 'run-f';
/** site-01, site-02 on node-2; site-03 on node-3. */
const HOLDERS: Record<string, string> = { 'site-01': 'node-2', 'site-02': 'node-2', 'site-03': 'node-3' };
const SITES = Object.keys(HOLDERS);
const socketOf = (siteId: string) => `sock-${siteId}`;
const link = (id: string, node?: string) => ({ id, node, closed: false }) as unknown as SiteLink & { node?: string };

function fitResult(siteId: string): FitResult {
  const k = SITES.indexOf(siteId);
  const arrays = GLOBAL.map((g, t) => g.map((v, i) => v + Math.fround(0.01 / (k + 2 + i + t))));
  return { runId: RUN, round: 2, siteId, weights: encodeWeights({ manifest: MANIFEST, arrays }), numExamples: 10 + k, metrics: { loss: 0.5, accuracy: 0.8 }, durationMs: 5 };
}
async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as FedtuneError).code;
  }
  return 'none';
}

function bus() {
  const sent: Array<{ from: string; event: string; payload: Record<string, unknown> }> = [];
  return { sent, emitFrom: (from: string) => (event: string, payload: unknown) => void sent.push({ from, event, payload: msgpackDecode(msgpackEncode(payload)) as Record<string, unknown> }) };
}

interface LeaderOver {
  token?: number;
  delivery?: 'socket' | 'http';
  store?: (bytes: Uint8Array, ttlMs: number) => Promise<string>;
  publishVersion?: (version: number, bytes: Uint8Array) => Promise<string>;
  redisReady?: () => boolean;
  storeTimeoutMs?: number;
}

function leaderSetup(over: LeaderOver = {}) {
  const config = parseRunConfig({ runId: RUN, rounds: 3, minSites: 1, maxExamplesPerSite: 1000, roundTimeoutMs: 60_000, normBoundMultiple: 0, modelDelivery: over.delivery ?? 'socket' });
  const aggregator = new StreamingFedAvgAggregator([3, 2]);
  aggregator.begin({ runId: RUN, round: 2, attempt: 1, global: GLOBAL, strategyState: undefined, selected: SITES.length });
  const collector = new RoundCollector(2, new Set(SITES), 60_000);
  collector.aggregator = aggregator;
  const guard = new UpdateGuard({ normBoundMultiple: 0, exampleWeightCap: 0, previousMedianNorm: 1, announced: SITES.map((_, k) => 10 + k) });
  const logs: string[] = [];
  const calls: string[] = [];
  const b = bus();
  const leader = new LeaderRoundPartials({
    nodeId: 'node-1',
    storeWeights: async (bytes, ttlMs) => {
      calls.push(`store ${bytes.byteLength} ${ttlMs}`);
      return over.store ? over.store(bytes, ttlMs) : sha256OfBytes(bytes);
    },
    ...(over.publishVersion
      ? {
          publishVersion: (version: number, bytes: Uint8Array) => {
            calls.push(`publish ${version} ${bytes.byteLength}`);
            return over.publishVersion!(version, bytes);
          },
        }
      : {}),
    ...(over.redisReady ? { redisReady: over.redisReady } : {}),
    storeTimeoutMs: over.storeTimeoutMs ?? 60_000,
    leaderToken: () => over.token ?? 5,
    emitToNodes: b.emitFrom('node-1'),
    remoteOf: (l) => ((l as { node?: string }).node ? { node: (l as { node?: string }).node!, socket: l.id } : undefined),
    partialWaitMs: 60_000,
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
    emit: () => {},
  };
  return { leader, start, collector, aggregator, logs, calls, bus: b };
}

function followerFor(node: string, b: ReturnType<typeof bus>, loads: string[] = []) {
  const fence = new FencingTokens();
  const warnings: string[] = [];
  const f = new FollowerPartialRounds({
    nodeId: node,
    loadWeights: async (sha, maxBytes) => (loads.push(`sha ${sha} ${maxBytes}`), decodeWeights(GLOBAL_BYTES)),
    loadVersionWeights: async (version, sha, maxBytes) => (loads.push(`version ${version} ${sha} ${maxBytes}`), decodeWeights(GLOBAL_BYTES)),
    fence,
    emitToNodes: b.emitFrom(node),
    onWarning: (w) => warnings.push(w),
  });
  return { f, fence, warnings };
}

const planOf = (b: ReturnType<typeof bus>) => b.sent.find((m) => m.event === CLUSTER_EVENTS.roundPlan)!.payload;

describe('FencingTokens: the highest leader token a follower has seen', () => {
  it.each([
    // [highest seen before, token offered, admitted, highest after, ignored]
    [0, 1, true, 1, 0],
    [4, 3, false, 4, 1],
    [4, 4, true, 4, 0],
    [4, 5, true, 5, 0],
    [4, 1, false, 4, 1],
  ])('seen %i, offered %i: admitted %s, highest %i, ignored %i', (seen, offered, admitted, highest, ignored) => {
    const fence = new FencingTokens();
    fence.observe(seen);
    expect(fence.admit(offered)).toBe(admitted);
    expect(fence.highest).toBe(highest);
    expect(fence.staleIgnored).toBe(ignored);
  });

  it('observe only raises the highest, and never counts', () => {
    const fence = new FencingTokens();
    fence.observe(7);
    fence.observe(2);
    expect(fence.highest).toBe(7);
    expect(fence.staleIgnored).toBe(0);
  });

  it.each([
    [5, 5, 'none'],
    [4, 5, 'stale_leader'],
    [6, 5, 'stale_leader'],
  ])('checkFencingToken: token %i against the plan\'s %i → %s', async (token, expected, code) => {
    expect(await codeOf(() => checkFencingToken('the record', 'node-2', token, expected))).toBe(code);
  });

  it('the refusal names the node and both tokens', () => {
    expect(() => checkFencingToken('the partial aggregate', 'node-3', 2, 5)).toThrow("the partial aggregate of node node-3 carries fencing token 2, not the leader's 5");
  });

  it.each([
    ['plan', () => ({ ...validPlan(), token: 0 })],
    ['plan', () => ({ ...validPlan(), token: 1.5 })],
    ['plan', () => { const { token: _t, ...rest } = validPlan(); return rest; }],
    ['plan', () => ({ ...validPlan(), weightsFrom: 'url' })],
    ['plan', () => { const { weightsFrom: _w, ...rest } = validPlan(); return rest; }],
    ['close', () => ({ node: 'node-1', runId: RUN, round: 2, attempt: 1 })],
    ['close', () => ({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: -1 })],
    ['close', () => ({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: Number.MAX_SAFE_INTEGER + 2 })],
    ['partial', () => ({ node: 'node-2', runId: RUN, round: 2, attempt: 1, partial: {} })],
    ['record', () => ({ node: 'node-2', runId: RUN, round: 2, attempt: 1, siteId: 's', numExamples: 1, effectiveExamples: 1, norm: 0, metrics: { loss: 1, accuracy: 0 }, durationMs: 1, bytes: 1 })],
  ])('a %s without a valid token is malformed', (kind, make) => {
    const schema = { plan: RoundPlanMessage, close: RoundCloseMessage, partial: PartialMessage, record: SiteAcceptanceMessage }[kind as 'plan'];
    expect(schema.safeParse(make()).success).toBe(false);
  });
});

function validPlan(): Record<string, unknown> {
  return { node: 'node-1', runId: RUN, round: 2, attempt: 1, token: 5, modelVersion: 1, weightsSha256: sha256OfBytes(GLOBAL_BYTES), weightsFrom: 'sha256', sites: [], maxExamples: 10, maxUpdateBytes: 10, exampleCap: null, streamBound: null };
}

/** The follower's last acceptance record: records go in batches (record-batcher.ts), so flush and read the last batch. */
function flushedRecord(f: { records: { flush(): void } }, b: { sent: Array<{ event: string; payload: any }> }): any {
  f.records.flush();
  const batch = [...b.sent].reverse().find((m) => m.event === CLUSTER_EVENTS.siteAcceptedBatch)!;
  expect(batch).toBeDefined();
  return batch.payload.records.at(-1);
}

describe('fencing on the partial-aggregate path', () => {
  it('the plan and the close carry the leader\'s token; records and the partial carry the plan\'s', async () => {
    const s = leaderSetup({ token: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    expect(planOf(s.bus).token).toBe(5);
    const { f } = followerFor('node-2', s.bus);
    await f.onPlan(planOf(s.bus));
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(true);
    const record = { payload: flushedRecord(f, s.bus) };
    expect(record.payload.token).toBe(5);
    s.leader.onRecord(record.payload);
    expect(s.collector.accepted.has('site-01')).toBe(true);
    const closing = attempt.close();
    const close = s.bus.sent.find((m) => m.event === CLUSTER_EVENTS.roundClose)!;
    expect(close.payload).toEqual({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: 5 });
    f.onClose(close.payload);
    const partial = s.bus.sent.find((m) => m.event === CLUSTER_EVENTS.partial)!;
    expect(partial.payload.token).toBe(5);
    s.leader.onPartial(partial.payload);
    await closing;
    expect(s.leader.partialsMerged).toBe(1);
    expect(s.leader.staleTokenRefused).toBe(0);
  });

  it('a stale leader\'s plan after a newer leader\'s is ignored (counted): the follower keeps folding under the newer plan', async () => {
    const newer = leaderSetup({ token: 6 });
    await newer.leader.beginAttempt(newer.start);
    const stale = leaderSetup({ token: 5 });
    await stale.leader.beginAttempt(stale.start);
    const { f, fence } = followerFor('node-2', newer.bus);
    await f.onPlan(planOf(newer.bus));
    await f.onPlan({ ...planOf(stale.bus), node: 'node-9' });
    expect(fence.staleIgnored).toBe(1);
    expect(fence.highest).toBe(6);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(true);
    expect(newer.bus.sent.at(-1)!.payload.token).toBe(6);
  });

  it('a plan with a lower token than a leader announcement already seen is ignored: nothing is folded under it', async () => {
    const stale = leaderSetup({ token: 5 });
    await stale.leader.beginAttempt(stale.start);
    const { f, fence } = followerFor('node-2', stale.bus);
    fence.observe(6);
    await f.onPlan(planOf(stale.bus));
    expect(fence.staleIgnored).toBe(1);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('a plan whose leader was replaced while its weights loaded is dropped', async () => {
    const s = leaderSetup({ token: 5 });
    await s.leader.beginAttempt(s.start);
    let release!: () => void;
    const fence = new FencingTokens();
    const f = new FollowerPartialRounds({
      nodeId: 'node-2',
      loadWeights: () => new Promise((r) => (release = () => r(decodeWeights(GLOBAL_BYTES)))),
      loadVersionWeights: () => Promise.reject(new Error('unused')),
      fence,
      emitToNodes: s.bus.emitFrom('node-2'),
    });
    const loading = f.onPlan(planOf(s.bus));
    fence.observe(6);
    release();
    await loading;
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(false);
  });

  it('a close from a lower token than the plan\'s is ignored (no partial sent, counted); the plan\'s own close sends it', async () => {
    const s = leaderSetup({ token: 5 });
    await s.leader.beginAttempt(s.start);
    const { f, fence } = followerFor('node-2', s.bus);
    await f.onPlan(planOf(s.bus));
    f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') });
    f.onClose({ node: 'node-9', runId: RUN, round: 2, attempt: 1, token: 4 });
    expect(fence.staleIgnored).toBe(1);
    expect(s.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial)).toEqual([]);
    // A close of the same attempt number by a later leader is not this plan's close either.
    f.onClose({ node: 'node-9', runId: RUN, round: 2, attempt: 1, token: 7 });
    expect(s.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial)).toEqual([]);
    expect(fence.highest).toBe(7);
  });

  it('the matching close sends the partial exactly once', async () => {
    const s = leaderSetup({ token: 5 });
    await s.leader.beginAttempt(s.start);
    const { f } = followerFor('node-2', s.bus);
    await f.onPlan(planOf(s.bus));
    f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') });
    f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: 5 });
    f.onClose({ node: 'node-1', runId: RUN, round: 2, attempt: 1, token: 5 });
    expect(s.bus.sent.filter((m) => m.event === CLUSTER_EVENTS.partial)).toHaveLength(1);
  });

  it.each([4, 6])('a record tagged with token %i (not the plan\'s 5) is refused (stale_leader), counted, and changes nothing', async (token) => {
    const s = leaderSetup({ token: 5 });
    await s.leader.beginAttempt(s.start);
    const { f } = followerFor('node-2', s.bus);
    await f.onPlan(planOf(s.bus));
    f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') });
    const record = flushedRecord(f, s.bus);
    expect(await codeOf(() => s.leader.onRecord({ ...record, token }))).toBe('stale_leader');
    expect(s.leader.staleTokenRefused).toBe(1);
    expect(s.collector.accepted.size).toBe(0);
    // Other refusals are not counted as fencing ones.
    expect(await codeOf(() => s.leader.onRecord({ ...record, round: 3 }))).toBe('stale_round');
    expect(s.leader.staleTokenRefused).toBe(1);
    s.leader.onRecord(record);
    expect(s.collector.accepted.has('site-01')).toBe(true);
  });

  it('a partial tagged with another token is refused (stale_leader, counted): that node\'s sites are left out at once', async () => {
    const s = leaderSetup({ token: 5 });
    const attempt = (await s.leader.beginAttempt(s.start))!;
    const { f } = followerFor('node-2', s.bus);
    await f.onPlan(planOf(s.bus));
    f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') });
    s.leader.onRecord(flushedRecord(f, s.bus));
    const closing = attempt.close();
    f.onClose(s.bus.sent.find((m) => m.event === CLUSTER_EVENTS.roundClose)!.payload);
    const partial = s.bus.sent.find((m) => m.event === CLUSTER_EVENTS.partial)!.payload;
    expect(await codeOf(() => s.leader.onPartial({ ...partial, token: 4 }))).toBe('stale_leader');
    expect(s.leader.staleTokenRefused).toBe(1);
    await closing;
    expect(s.collector.accepted.has('site-01')).toBe(false);
    expect(s.collector.failed.map((x) => x.siteId)).toEqual(['site-01']);
    expect(s.collector.failed[0].reason).toContain('(stale_leader: ');
    expect(s.leader.partialsMerged).toBe(0);
  });

  it('a node that does not lead (token 0) plans nothing', async () => {
    const s = leaderSetup({ token: 0 });
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.bus.sent).toEqual([]);
    expect(s.calls).toEqual([]);
  });
});

describe('where the followers read an attempt\'s global weights (stored once)', () => {
  it('HTTP delivery: the plan names the published model version, published before the plan; no sha256 copy is stored', async () => {
    let publish!: (sha: string) => void;
    const s = leaderSetup({ delivery: 'http', publishVersion: () => new Promise((r) => (publish = r)) });
    const planning = s.leader.beginAttempt(s.start);
    await new Promise((r) => setTimeout(r, 10));
    // The version is not in Redis yet: no plan.
    expect(s.bus.sent).toEqual([]);
    publish('a'.repeat(64));
    expect(await planning).toBeDefined();
    expect(s.calls).toEqual([`publish 1 ${GLOBAL_BYTES.byteLength}`]);
    expect(planOf(s.bus)).toMatchObject({ modelVersion: 1, weightsSha256: 'a'.repeat(64), weightsFrom: 'version' });
  });

  it('socket delivery: the bytes go under their sha256 (TTL 3 × the round timeout, at least 60 s), never as a version', async () => {
    const s = leaderSetup({ delivery: 'socket', publishVersion: async () => 'b'.repeat(64) });
    await s.leader.beginAttempt(s.start);
    expect(s.calls).toEqual([`store ${GLOBAL_BYTES.byteLength} 180000`]);
    expect(planOf(s.bus)).toMatchObject({ weightsSha256: sha256OfBytes(GLOBAL_BYTES), weightsFrom: 'sha256' });
  });

  it('HTTP delivery on a node that cannot publish versions (no publishVersion): the sha256 copy, as under socket delivery', async () => {
    const s = leaderSetup({ delivery: 'http' });
    await s.leader.beginAttempt(s.start);
    expect(s.calls).toEqual([`store ${GLOBAL_BYTES.byteLength} 180000`]);
    expect(planOf(s.bus).weightsFrom).toBe('sha256');
  });

  it('a short round timeout still keeps the stored copy 60 s', async () => {
    const s = leaderSetup();
    s.start.config = { ...s.start.config, roundTimeoutMs: 1_000 };
    await s.leader.beginAttempt(s.start);
    expect(s.calls).toEqual([`store ${GLOBAL_BYTES.byteLength} 60000`]);
  });

  it.each([
    ['a publish that fails', { delivery: 'http' as const, publishVersion: () => Promise.reject(new FedtuneError('transport', 'model version 1 is not in Redis')) }, 'model version 1 is not in Redis'],
    ['a publish that never answers', { delivery: 'http' as const, publishVersion: () => new Promise<string>(() => {}), storeTimeoutMs: 30 }, 'no answer within 30 ms'],
  ])('%s: the attempt relays and the node says why', async (_what, over, why) => {
    const s = leaderSetup(over);
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.bus.sent).toEqual([]);
    expect(s.logs).toEqual([`round 2: the global weights could not be stored for the followers (${why}); their sites' updates are relayed`]);
  });

  it.each(['socket', 'http'] as const)('Redis known down (%s delivery): nothing is stored or published, no wait, the attempt relays', async (delivery) => {
    // A store that would never answer, and no timeout to speak of: only the readiness check ends the attempt.
    const s = leaderSetup({ delivery, redisReady: () => false, store: () => new Promise(() => {}), publishVersion: () => new Promise(() => {}), storeTimeoutMs: 2 ** 31 - 1 });
    expect(await s.leader.beginAttempt(s.start)).toBeUndefined();
    expect(s.calls).toEqual([]);
    expect(s.logs).toEqual(["round 2: the global weights could not be stored for the followers (Redis is unreachable); their sites' updates are relayed"]);
  });

  it('Redis ready: the weights are stored as usual', async () => {
    const s = leaderSetup({ redisReady: () => true });
    expect(await s.leader.beginAttempt(s.start)).toBeDefined();
    expect(s.calls).toHaveLength(1);
  });

  it('the default bound on storing is 5 s', () => {
    expect(ROUND_WEIGHTS_STORE_TIMEOUT_MS).toBe(5_000);
  });

  it.each([
    ['version', `version 1 ${'c'.repeat(64)} ${2 * (1 << 20) + 1024 * 1024}`],
    ['sha256', `sha ${'c'.repeat(64)} ${2 * (1 << 20) + 1024 * 1024}`],
  ])('a follower given a plan with weightsFrom %s loads the weights that way (and only that way)', async (from, load) => {
    const s = leaderSetup();
    await s.leader.beginAttempt(s.start);
    const loads: string[] = [];
    const { f } = followerFor('node-2', s.bus, loads);
    await f.onPlan({ ...planOf(s.bus), weightsFrom: from, weightsSha256: 'c'.repeat(64) });
    expect(loads).toEqual([load]);
    expect(f.intercept(link(socketOf('site-01')), { event: 'fitResult', payload: fitResult('site-01') })).toBe(true);
  });

  it('globalWeightsForVersion: at most maxBytes (equal is fine, one less is payload_too_large)', async () => {
    const versions = { get: (v: number) => (v === 1 ? { version: 1, bytes: GLOBAL_BYTES, sha256: sha256OfBytes(GLOBAL_BYTES) } : undefined) };
    expect((await globalWeightsForVersion(1, versions, sha256OfBytes(GLOBAL_BYTES), GLOBAL_BYTES.byteLength)).manifest).toEqual(MANIFEST);
    expect(await codeOf(() => globalWeightsForVersion(1, versions, undefined, GLOBAL_BYTES.byteLength - 1))).toBe('payload_too_large');
    expect(await codeOf(() => globalWeightsForVersion(1, versions))).toBe('none');
  });
});
