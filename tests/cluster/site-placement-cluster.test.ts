import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

/**
 * Site placement over a real cluster (3 in-process nodes on a real Redis, real sites over socket.io): every
 * site is given the nodes in the same order, node-1 (the leader) first — the worst case for the leader — and
 * `leaderWeight` decides how many it keeps (cluster/site-placement.ts). Counted on the leader once all have
 * joined round 1; the run completes with every site either way.
 */
const SITES = 20;
// Shares 6.7 / 6.7 / 6.7, 4 / 8 / 8 and 0 / 10 / 10, within the online placement's slack (shares rounded up,
// decided as the hellos of a burst arrive). Without placement all 20 would stay on node-1; without counting the
// sites in flight most would pile onto node-3.
const CASES: Array<{ leaderWeight: number; leader: [number, number]; follower: [number, number] }> = [
  { leaderWeight: 1, leader: [5, 8], follower: [5, 8] },
  { leaderWeight: 0.5, leader: [2, 5], follower: [6, 10] },
  { leaderWeight: 0, leader: [0, 1], follower: [9, 11] },
];

describe.runIf(clusterDescribeMode() === 'run')('site placement: the leader keeps its weighted share of the sites', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it.each(CASES)('leaderWeight $leaderWeight: the leader holds $leader sites of 20, each follower $follower', async ({ leaderWeight, leader, follower }) => {
    const cluster = await startClusterFederation({
      redisUrl: redis.url,
      nodes: 3,
      sites: SITES,
      rounds: 1,
      seed: 41,
      prefix: `place-${leaderWeight}`,
      maxSiteExamples: 20,
      holdoutExamples: 60,
      sameOrder: true,
      offerAlternatives: true,
      cluster: { leaderWeight },
    });
    try {
      const leaderNode = cluster.nodes[0];
      // node-1 started first and took the lease; the sites wait for the run's minimum of 12.
      await vi.waitFor(() => expect(leaderNode.session?.engine.sites.size).toBe(SITES), { timeout: 60_000, interval: 50 });
      const counts = leaderNode.transport.siteCounts();
      const held = cluster.nodes.map((n) => counts.get(n.nodeId) ?? 0);
      expect(held.reduce((a, b) => a + b, 0)).toBe(SITES);
      expect(held[0]).toBeGreaterThanOrEqual(leader[0]);
      expect(held[0]).toBeLessThanOrEqual(leader[1]);
      for (const f of held.slice(1)) {
        expect(f).toBeGreaterThanOrEqual(follower[0]);
        expect(f).toBeLessThanOrEqual(follower[1]);
      }
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      expect(outcomes.map((o) => o.status)).toEqual(['complete', 'complete', 'complete']);
      const report = outcomes.find((o) => o.report)!.report!;
      expect(report.rounds[0].accepted).toHaveLength(SITES);
      // Sites sent on moved without a failure: every site completed.
      expect((await Promise.all(cluster.siteRuns)).every((o) => o.completed)).toBe(true);
    } finally {
      await cluster.close();
    }
  });
});
