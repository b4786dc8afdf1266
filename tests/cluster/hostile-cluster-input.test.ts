import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_EVENTS, connectClusterRedis, type ClusterRedis } from '@fedtune/coordinator';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const huge = 'x'.repeat(100_000);
/** A well-formed plan and acceptance record, made hostile below. */
const PLAN = { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1, token: 1, modelVersion: 0, weightsSha256: '0'.repeat(64), weightsFrom: 'sha256', sites: [], maxExamples: 10, maxUpdateBytes: 10, exampleCap: null, streamBound: null };
const RECORD = { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1, token: 1, siteId: 'site-1', numExamples: 40, effectiveExamples: 40, norm: 1, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 5, bytes: 100 };
/** Cluster messages a hostile or broken node could put on the stream: each fails its schema. */
const MALFORMED: Array<[string, unknown]> = [
  [CLUSTER_EVENTS.relay, null],
  [CLUSTER_EVENTS.relay, 'a string'],
  [CLUSTER_EVENTS.relay, { node: 'evil', socket: 's1', event: 'hello' }],
  [CLUSTER_EVENTS.relay, { node: 'evil node!', socket: 's1', event: 'hello', payload: {} }],
  [CLUSTER_EVENTS.relay, { node: 'evil', socket: huge, event: 'hello', payload: {} }],
  [CLUSTER_EVENTS.relay, { node: 'evil', socket: 's1', event: huge, payload: {} }],
  [CLUSTER_EVENTS.relay, { node: 'evil', socket: 's1', event: 'hello', payload: {}, extra: 1 }],
  [CLUSTER_EVENTS.relayClosed, { node: 'evil', socket: 's1', reason: huge }],
  [CLUSTER_EVENTS.relayClosed, { node: 'evil', socket: 5, reason: 'x' }],
  [CLUSTER_EVENTS.nodeAlive, { node: 'evil', sites: -1 }],
  [CLUSTER_EVENTS.nodeAlive, { node: 'evil', sites: Number.NaN }],
  [CLUSTER_EVENTS.leader, { node: 'evil', token: 0 }],
  [CLUSTER_EVENTS.leader, { node: 'evil', token: 1.5 }],
  [CLUSTER_EVENTS.leader, { node: 'evil', token: 'x' }],
  // Partial aggregates (round-plan-messages.ts, partial-round-messages.ts).
  [CLUSTER_EVENTS.roundPlan, { node: 'evil' }],
  [CLUSTER_EVENTS.roundPlan, { ...PLAN, weightsSha256: 'not-a-hash' }],
  [CLUSTER_EVENTS.roundPlan, { ...PLAN, sites: [{ siteId: '../etc', node: 'evil', socket: 's1' }] }],
  [CLUSTER_EVENTS.roundPlan, { ...PLAN, streamBound: -1 }],
  [CLUSTER_EVENTS.roundClose, { node: 'evil', runId: 'r', round: 0, attempt: 1 }],
  [CLUSTER_EVENTS.siteAccepted, { node: 'evil', siteId: 'site-1' }],
  [CLUSTER_EVENTS.siteAccepted, { ...RECORD, norm: Number.NaN }],
  [CLUSTER_EVENTS.siteAccepted, { ...RECORD, effectiveExamples: 0 }],
  [CLUSTER_EVENTS.siteAccepted, { ...RECORD, metrics: { loss: huge } }],
  [CLUSTER_EVENTS.partial, { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1, token: 1, partial: {}, extra: 1 }],
  // Fencing tokens (fencing-check.ts): missing, not a positive integer, or a weights source that is not one.
  [CLUSTER_EVENTS.roundPlan, { ...PLAN, token: 0 }],
  [CLUSTER_EVENTS.roundPlan, { ...PLAN, weightsFrom: 'http://evil/' }],
  [CLUSTER_EVENTS.roundClose, { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1 }],
  [CLUSTER_EVENTS.siteAccepted, { ...RECORD, token: -1 }],
  [CLUSTER_EVENTS.partial, { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1, token: 1.5, partial: {} }],
  // Batches (record-batch-messages.ts, site-sends-messages.ts): refused whole.
  [CLUSTER_EVENTS.siteAcceptedBatch, { node: 'evil', records: [] }],
  [CLUSTER_EVENTS.siteAcceptedBatch, { node: 'evil', records: Array.from({ length: 257 }, () => RECORD) }],
  [CLUSTER_EVENTS.siteAcceptedBatch, { node: 'evil', records: [RECORD], extra: 1 }],
  [CLUSTER_EVENTS.siteAcceptedBatch, { node: 'evil', records: 'x' }],
  [CLUSTER_EVENTS.siteSends, { node: 'evil', to: 'node-1', sends: [] }],
  [CLUSTER_EVENTS.siteSends, { node: 'evil', to: 'node-1', sends: [{ socket: huge, event: 'fit', payload: {} }] }],
  [CLUSTER_EVENTS.siteSends, { node: 'evil', to: 'node-1', sends: Array.from({ length: 257 }, () => ({ socket: 's1', event: 'fit', payload: {} })) }],
  // Evaluation on a follower (evaluation-messages.ts): metrics out of range, both or neither of metrics and error, a bad hash.
  [CLUSTER_EVENTS.evaluationResult, { node: 'evil', to: 'node-1', id: 1, sha256: '0'.repeat(64), metrics: { accuracy: 2, loss: 0 } }],
  [CLUSTER_EVENTS.evaluationResult, { node: 'evil', to: 'node-1', id: 1, sha256: '0'.repeat(64), metrics: { accuracy: 0.5, loss: 1 }, error: 'x' }],
  [CLUSTER_EVENTS.evaluationResult, { node: 'evil', to: 'node-1', id: 1, sha256: '0'.repeat(64) }],
  [CLUSTER_EVENTS.evaluationResult, { node: 'evil', to: 'node-1', id: 1, sha256: '0'.repeat(64), error: huge }],
  [CLUSTER_EVENTS.evaluationRequest, { node: 'evil', token: 1, to: 'node-1', id: 1, sha256: '../../etc/passwd' }],
];

describe.runIf(clusterDescribeMode() === 'run')('hostile input from other cluster nodes', () => {
  let redis: RedisServer;
  let attackerRedis: ClusterRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
    attackerRedis = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await attackerRedis?.close();
    await redis?.kill();
  });

  it('malformed cluster messages, relays for sockets that never said hello, a hostile hello and garbage stream entries do not stop the leader: the run completes', async () => {
    const prefix = 'hostile';
    const fed = await startClusterFederation({ redisUrl: redis.url, nodes: 1, sites: 3, rounds: 1, seed: 31, prefix, maxSiteExamples: 40, holdoutExamples: 100 });
    const attacker = new Server();
    attacker.adapter(createAdapter(attackerRedis, { streamName: `${prefix}:socket.io` }));
    try {
      const leader = fed.nodes[0];
      // Wait until node-1 leads, then attack.
      while (!leader.transport.isLeading) await new Promise((r) => setTimeout(r, 50));
      for (const [event, payload] of MALFORMED) attacker.serverSideEmit(event, payload);
      // Well-formed envelopes with hostile contents: a site message for a socket that never joined, a hello
      // that fails the site schema, a non-object payload, and a leader message from a node with a lower token.
      attacker.serverSideEmit(CLUSTER_EVENTS.relay, { node: 'evil', socket: 'ghost-1', event: 'fitResult', payload: { round: 1 } });
      attacker.serverSideEmit(CLUSTER_EVENTS.relay, { node: 'evil', socket: 'ghost-2', event: 'hello', payload: { protocol: 'x', siteId: '../../etc' } });
      attacker.serverSideEmit(CLUSTER_EVENTS.relay, { node: 'evil', socket: 'ghost-2', event: 'heartbeat', payload: 42 });
      attacker.serverSideEmit(CLUSTER_EVENTS.relayClosed, { node: 'other', socket: 'ghost-2', reason: 'not its socket' });
      // Well-formed partial-aggregate messages the leader never asked for: a record of its own site, and a
      // partial, with no attempt folding partials (all sites are on the leader): refused as stale_round.
      attacker.serverSideEmit(CLUSTER_EVENTS.siteAccepted, RECORD);
      // A well-formed batch of two records: each refused on its own (stale_round), the batch itself is not malformed.
      attacker.serverSideEmit(CLUSTER_EVENTS.siteAcceptedBatch, { node: 'evil', records: [RECORD, { ...RECORD, siteId: 'site-2' }] });
      // Batched site messages for the leader's own sockets are not for a leader: ignored.
      attacker.serverSideEmit(CLUSTER_EVENTS.siteSends, { node: 'evil', to: 'node-1', sends: [{ socket: 'ghost-1', event: 'complete', payload: {} }] });
      attacker.serverSideEmit(CLUSTER_EVENTS.partial, { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1, token: 1, partial: { version: 1 } });
      // Well-formed evaluation messages nobody asked for: a result for a request the leader never made (ignored), and
      // a request to the leader (a leader evaluates for nobody).
      attacker.serverSideEmit(CLUSTER_EVENTS.evaluationResult, { node: 'evil', to: 'node-1', id: 1, sha256: '0'.repeat(64), metrics: { accuracy: 1, loss: 0 } });
      attacker.serverSideEmit(CLUSTER_EVENTS.evaluationRequest, { node: 'evil', token: 99, to: 'node-1', id: 1, sha256: '0'.repeat(64) });
      // A plan and a close sent to the leader are ignored (the leader plans; it does not follow plans).
      attacker.serverSideEmit(CLUSTER_EVENTS.roundPlan, PLAN);
      attacker.serverSideEmit(CLUSTER_EVENTS.roundClose, { node: 'evil', runId: 'cluster-31', round: 1, attempt: 1, token: 1 });
      // Entries the streams adapter itself cannot decode.
      await attackerRedis.xAdd(`${prefix}:socket.io`, '*', { nsp: '/', uid: 'evil', type: '3', data: 'not json {' });
      await attackerRedis.xAdd(`${prefix}:socket.io`, '*', { nsp: '/', uid: 'evil', type: '3', data: 'AAAA' });
      await attackerRedis.xAdd(`${prefix}:socket.io`, '*', { junk: huge });
      const outcome = await leader.done;
      expect(outcome.status).toBe('complete');
      expect(outcome.report!.rounds[0].accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
      expect(leader.transport.refusedClusterMessages).toBe(MALFORMED.length + 4);
      expect(Object.fromEntries(leader.transport.refusedByCode)).toEqual({ stale_round: 4 });
      expect([leader.transport.stats.siteSendsDelivered, leader.transport.stats.siteSendsUnknownSocket]).toEqual([0, 0]);
      expect(outcome.report!.rounds[0].failed).toEqual([]);
      // The forged result was not taken: the round's metrics are the leader's own evaluation, never 100 %; and a node
      // known only from relayed messages (no heartbeat) is never asked to evaluate (no wait for an answer).
      expect(leader.evaluation.leader.stats).toMatchObject({ delegated: 0, fallbacks: 0 });
      expect(leader.evaluation.follower.stats).toEqual({ evaluated: 0, failed: 0 });
      expect(outcome.report!.rounds[0].global.accuracy).toBeLessThan(1);
      const sites = await Promise.all(fed.siteRuns);
      expect(sites.every((s) => s.completed)).toBe(true);
    } finally {
      // No HTTP server to close: stop the adapter's timers only.
      (attacker.of('/').adapter as unknown as { close(): void }).close();
      await fed.close();
    }
  }, 180_000);
});
