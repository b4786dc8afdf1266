import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWeights, type WeightsManifest } from '@fedtune/shared';
import { connectClusterRedis, parseRunConfig, type ClusterRedis } from '@fedtune/coordinator';
import { startTestFederation } from '../helpers/federation.ts';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { ClusterModelVersions } from '../../coordinator/src/cluster/cluster-model-versions.ts';
import { LeaderRoundPartials } from '../../coordinator/src/cluster/leader-round-partials.ts';
import { storeGlobalWeightsForRound } from '../../coordinator/src/cluster/load-global-weights-for-round.ts';
import { StreamingFedAvgAggregator } from '../../coordinator/src/engine/aggregation/streaming-fedavg-aggregator.ts';
import { RoundCollector } from '../../coordinator/src/engine/round-collector.ts';
import { UpdateGuard } from '../../coordinator/src/engine/update-guard.ts';
import { sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';
import type { SiteLink } from '@fedtune/shared';

const SEED = 31;
const SMALL = { maxSiteExamples: 40, holdoutExamples: 100 };

/**
 * The round's global weights for the followers, against a real redis-server: under HTTP model delivery
 * they are in Redis once (the published model version, no `<prefix>:weights:<sha256>` copy) and the
 * partial path is still taken and bit-identical to one coordinator; while Redis is known down the leader
 * does not wait for a store that cannot happen.
 */
describe.runIf(clusterDescribeMode() === 'run')('partial aggregates: the global weights in Redis once (real redis-server)', () => {
  let redis: RedisServer;
  let client: ClusterRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await redis?.kill();
  });

  it('HTTP delivery, 3 nodes, 20 sites over socket.io: only model-version keys hold weights (and the evaluations\' transient copies, deleted once answered), every follower site folded, weights bit-identical to one node', async () => {
    const prefix = 'http-once';
    const config = { modelDelivery: 'http' as const, normBoundMultiple: 0 };
    // Every write of a weights copy is seen, whenever it happens (keys may expire or be deleted later).
    const watcher = client.duplicate();
    await watcher.connect();
    const written: string[] = [];
    await watcher.configSet('notify-keyspace-events', 'KEA');
    const sub = client.duplicate();
    await sub.connect();
    await sub.pSubscribe(`__keyspace@0__:${prefix}:*`, (event, channel) => {
      if (event === 'set' || event === 'hset') written.push(`${event} ${channel.replace(/^__keyspace@0__:/, '')}`);
    });
    const cluster = await startClusterFederation({ redisUrl: redis.url, nodes: 3, sites: 20, rounds: 2, seed: SEED, prefix, config, ...SMALL });
    try {
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      expect(outcomes.map((o) => o.status)).toEqual(['complete', 'complete', 'complete']);
      const leader = outcomes.find((o) => o.report)!;
      const leaderNode = cluster.nodes.find((n) => n.nodeId === leader.leader)!;
      const followers = cluster.nodes.filter((n) => n !== leaderNode);
      // The partial path in both rounds: each follower folded its sites and sent one partial per round.
      expect(leaderNode.partials.leader.partialsMerged).toBe(4);
      expect(leaderNode.partials.leader.sitesLeftOut).toBe(0);
      // Every follower site is folded, except one whose update can beat its follower's loading of the plan's
      // weights by version (then it is relayed, as documented: "no plan yet"); each round still accepts all 20.
      expect(leaderNode.partials.leader.sitesMerged).toBeLessThanOrEqual(2 * (20 - 7));
      expect(leaderNode.partials.leader.sitesMerged).toBeGreaterThanOrEqual(2 * (20 - 7) - 3);
      expect(leader.report!.rounds.map((r) => r.accepted.length)).toEqual([20, 20]);
      for (const f of followers) expect(f.partials.follower.partialsSent).toBe(2);
      await new Promise((r) => setTimeout(r, 200));
      const weightWrites = written.filter((w) => w.includes(`${prefix}:weights:`));
      const versionWrites = written.filter((w) => w.includes(`${prefix}:model:`));
      expect(weightWrites).toEqual([]);
      expect(await client.keys(`${prefix}:weights:*`)).toEqual([]);
      // The holdout evaluations asked of the followers each put a transient copy in Redis, deleted once answered.
      const evaluationWrites = written.filter((w) => w.includes(`${prefix}:evaluation:`));
      expect(evaluationWrites.length).toBe(leaderNode.evaluation.leader.stats.delegated + leaderNode.evaluation.leader.stats.fallbacks);
      expect(evaluationWrites.length).toBeGreaterThanOrEqual(2);
      expect(await client.keys(`${prefix}:evaluation:*`)).toEqual([]);
      // The rounds' models (versions 0 and 1), each written once (the plan did not add a write of its own).
      expect(new Set(versionWrites).size).toBe(versionWrites.length);
      expect(versionWrites).toEqual(expect.arrayContaining([`hset ${prefix}:model:0`, `hset ${prefix}:model:1`]));
      const sites = await Promise.all(cluster.siteRuns);
      expect(sites.every((s) => s.completed && s.roundsTrained === 2)).toBe(true);

      const single = await startTestFederation({ sites: 20, rounds: 2, seed: SEED, transport: 'socket', ...SMALL, config: { runId: `cluster-${SEED}`, ...config } });
      const singleReport = await single.coordinator.done;
      await Promise.all(single.siteRuns);
      await single.coordinator.close();
      const report = leader.report!;
      expect(report.rounds.map((r) => r.global)).toEqual(singleReport.rounds.map((r) => r.global));
      const weights = readFileSync(join(cluster.runsDir, report.runId, report.final!.modelDir, 'weights.bin'));
      const singleWeights = readFileSync(join(single.coordinator.runDir, singleReport.final!.modelDir, 'weights.bin'));
      expect(Buffer.compare(weights, singleWeights)).toBe(0);
    } finally {
      await cluster.close();
      await sub.close().catch(() => undefined);
      await watcher.close().catch(() => undefined);
    }
  }, 240_000);

  it('ClusterModelVersions.written: true once a published version is in Redis, false for a version not published here', async () => {
    const versions = new ClusterModelVersions({ redis: client, prefix: 'written' });
    const bytes = encodeWeights({ manifest: [{ name: 'w', shape: [2], dtype: 'float32' }], arrays: [new Float32Array([1, 2])] });
    versions.publish({ version: 4, bytes, sha256: sha256OfBytes(bytes) });
    expect(await versions.written(4)).toBe(true);
    expect(await client.hGet('written:model:4', 'sha256')).toBe(sha256OfBytes(bytes));
    expect(await versions.written(5)).toBe(false);
    versions.clear();
    expect(await versions.written(4)).toBe(false);
  });

  it('Redis stopped: the leader neither stores nor waits (its readiness says down) and the attempt relays', async () => {
    const own = await startRedisServer();
    const conn = await connectClusterRedis(own.url, { onLost: () => {}, onRestored: () => {} });
    try {
      await own.kill();
      while (conn.isReady) await new Promise((r) => setTimeout(r, 20));
      const manifest: WeightsManifest = [{ name: 'w', shape: [2], dtype: 'float32' }];
      const global = [new Float32Array([1, 2])];
      const bytes = encodeWeights({ manifest, arrays: global });
      const aggregator = new StreamingFedAvgAggregator([2]);
      aggregator.begin({ runId: 'r', round: 1, attempt: 1, global, strategyState: undefined, selected: 1 });
      const logs: string[] = [];
      let stores = 0;
      const leader = new LeaderRoundPartials({
        nodeId: 'node-1',
        leaderToken: () => 1,
        // The real store: during an outage node-redis queues the SET until Redis returns (here: never).
        storeWeights: (b, ttl) => (stores++, storeGlobalWeightsForRound(conn, 'down', b, ttl)),
        redisReady: () => conn.isReady,
        // No bound to speak of: without the readiness check this attempt would wait (the test would time out).
        storeTimeoutMs: 2 ** 31 - 1,
        emitToNodes: () => {},
        remoteOf: (l) => ({ node: 'node-2', socket: l.id }),
        log: (line) => logs.push(line),
      });
      const planned = await leader.beginAttempt({
        config: parseRunConfig({ runId: 'r', rounds: 1, minSites: 1 }),
        round: 1,
        attempt: 1,
        selected: ['site-1'],
        modelVersion: 0,
        weightsBytes: bytes,
        aggregator,
        collector: new RoundCollector(1, new Set(['site-1']), 60_000),
        guard: new UpdateGuard({ normBoundMultiple: 0, exampleWeightCap: 0, previousMedianNorm: 1, announced: [10] }),
        site: () => ({ link: { id: 'sock-1', closed: false } as unknown as SiteLink, numExamples: 10, termsAccepted: true }),
        emit: () => {},
      });
      expect(planned).toBeUndefined();
      expect(stores).toBe(0);
      expect(logs).toEqual(["round 1: the global weights could not be stored for the followers (Redis is unreachable); their sites' updates are relayed"]);
    } finally {
      conn.destroy();
    }
  }, 30_000);
});
