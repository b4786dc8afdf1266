import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFederation } from '../helpers/federation.ts';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SEED = 23;
const SMALL = { maxSiteExamples: 40, holdoutExamples: 100 };

describe.runIf(clusterDescribeMode() === 'run')('a coordinator cluster: 3 nodes on one Redis, 20 sites spread over them', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('runs 3 rounds with every site on its own node, and the final weights are bit-identical to one coordinator with the same seed', async () => {
    const cluster = await startClusterFederation({ redisUrl: redis.url, nodes: 3, sites: 20, rounds: 3, seed: SEED, ...SMALL });
    try {
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      const leader = outcomes.find((o) => o.report)!;
      expect(outcomes.map((o) => o.status)).toEqual(['complete', 'complete', 'complete']);
      expect(new Set(outcomes.map((o) => o.leader)).size).toBe(1);
      // The sites of the two followers reached the leader's engine through them (site k starts on node k mod 3).
      const followers = cluster.nodes.filter((n) => n.nodeId !== leader.leader);
      for (const f of followers) expect(f.transport.relayedTotal).toBeGreaterThanOrEqual(6);
      // Rounds 2 and 3 took the partial path: each follower folded its sites' updates and sent one partial per
      // round (round 1's updates are held for the adaptive norm bound, so they were relayed).
      const leaderNode = cluster.nodes.find((n) => n.nodeId === leader.leader)!;
      console.log(JSON.stringify({ merged: leaderNode.partials.leader.partialsMerged, sites: leaderNode.partials.leader.sitesMerged, left: leaderNode.partials.leader.sitesLeftOut, followers: followers.map((f) => [f.partials.follower.folded, f.partials.follower.partialsSent]) }));
      expect(leaderNode.partials.leader.partialsMerged).toBe(4);
      expect(leaderNode.partials.leader.sitesLeftOut).toBe(0);
      for (const f of followers) expect(f.partials.follower.partialsSent).toBe(2);
      const sites = await Promise.all(cluster.siteRuns);
      expect(sites.every((s) => s.completed && s.roundsTrained === 3)).toBe(true);
      const report = leader.report!;
      const single = await startTestFederation({ sites: 20, rounds: 3, seed: SEED, transport: 'socket', ...SMALL, config: { runId: `cluster-${SEED}` } });
      const singleReport = await single.coordinator.done;
      await Promise.all(single.siteRuns);
      await single.coordinator.close();
      const singleWeights = readFileSync(join(single.coordinator.runDir, singleReport.final!.modelDir, 'weights.bin'));

      expect(report.rounds).toHaveLength(3);
      for (const r of report.rounds) expect(r.accepted).toHaveLength(20);
      expect(report.rounds.map((r) => r.global)).toEqual(singleReport.rounds.map((r) => r.global));
      const weights = readFileSync(join(cluster.runsDir, report.runId, report.final!.modelDir, 'weights.bin'));
      expect(Buffer.compare(weights, singleWeights)).toBe(0);
    } finally {
      await cluster.close();
    }
  }, 240_000);
});
