import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { attacker, type Attacker } from '../hostile/helpers.ts';

/**
 * Sites that never answer, on a cluster (3 nodes, Redis): one silent peer joined at each node, beside 9 honest
 * sites. The leader samples and keeps the cooldowns (unresponsive-sites.ts) for sites on every node: a silent
 * site on a follower misses like one on the leader, and sits the next round out.
 */
describe.runIf(clusterDescribeMode() === 'run')('silent sites on a cluster (3 nodes, Redis, 9 honest + 3 silent sites)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('a silent site on any node misses round 1, sits round 2 out, and is asked again in round 3', { timeout: 180_000 }, async () => {
    const silentIds = ['silent-1', 'silent-2', 'silent-3'];
    const cluster = await startClusterFederation({ redisUrl: redis.url, nodes: 3, sites: 9, rounds: 3, seed: 43, prefix: 'silent', maxSiteExamples: 40, holdoutExamples: 100, config: { minSites: 12, roundTimeoutMs: 4_000, federatedEvaluation: 'never' } });
    const silent: Attacker[] = [];
    try {
      for (const [k, id] of silentIds.entries()) {
        const peer = await attacker(cluster.nodes[k].url);
        peer.hello(id);
        await peer.next('welcome', 30_000);
        silent.push(peer);
      }
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      await Promise.all(cluster.siteRuns);
      expect(outcomes.map((o) => o.status)).toEqual(['complete', 'complete', 'complete']);
      const report = outcomes.find((o) => o.report)!.report!;
      const [r1, r2, r3] = report.rounds;
      const honest = Array.from({ length: 9 }, (_, k) => `site-${k + 1}`).sort();
      expect(r1.selected).toHaveLength(12);
      expect(r1.failed.map((f) => f.siteId).sort()).toEqual(silentIds);
      expect(r2.selected).toEqual(honest);
      expect(r2.cooling).toEqual({ count: 3, sites: silentIds });
      expect(r2.failed).toEqual([]);
      expect(r3.selected).toHaveLength(12);
      expect(r3.failed.map((f) => f.siteId).sort()).toEqual(silentIds);
      for (const r of report.rounds) expect(r.accepted.map((a) => a.siteId).sort()).toEqual(honest);
    } finally {
      for (const peer of silent) peer.socket.close();
      await cluster.close();
    }
  });
});
