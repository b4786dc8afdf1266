import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunConfigInput } from '@fedtune/coordinator';
import { startTestFederation } from '../helpers/federation.ts';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { connectClusterRedis } from '../../coordinator/src/cluster/redis-connection.ts';

const SEED = 23;
const SMALL = { maxSiteExamples: 40, holdoutExamples: 100 };

/**
 * How each run aggregates over the cluster, and how many partial aggregates the leader must have merged.
 * Plain FedAvg folds partials on the followers: not in round 1 under the default adaptive norm bound (the
 * round's updates are held until its bound is known, so they go to the leader individually), in every
 * round without it. A strategy over individual updates relays every update.
 */
const CASES: Array<{ name: string; config: Partial<RunConfigInput>; partialRounds: number }> = [
  { name: 'plain FedAvg (partials from round 2: round 1 is held for the norm bound)', config: {}, partialRounds: 2 },
  { name: 'plain FedAvg without the norm bound (partials in every round)', config: { normBoundMultiple: 0 }, partialRounds: 3 },
  { name: 'FedMedian (individual updates: relayed, no partials)', config: { strategy: 'fedmedian' }, partialRounds: 0 },
];

describe.runIf(clusterDescribeMode() === 'run')('a coordinator cluster: 3 nodes on one Redis, 20 sites spread over them', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it.each(CASES)('$name: 3 rounds, every site on its own node, final weights bit-identical to one coordinator with the same seed', async ({ config, partialRounds }) => {
    const prefix = `fed-${CASES.findIndex((c) => c.config === config)}`;
    const cluster = await startClusterFederation({ redisUrl: redis.url, nodes: 3, sites: 20, rounds: 3, seed: SEED, prefix, config, ...SMALL });
    try {
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      const leader = outcomes.find((o) => o.report)!;
      expect(outcomes.map((o) => o.status)).toEqual(['complete', 'complete', 'complete']);
      expect(new Set(outcomes.map((o) => o.leader)).size).toBe(1);
      // The sites of the two followers reached the leader's engine through them (site k starts on node k mod 3).
      const followers = cluster.nodes.filter((n) => n.nodeId !== leader.leader);
      for (const f of followers) expect(f.transport.relayedTotal).toBeGreaterThanOrEqual(6);
      // The path taken: each follower folded its sites' updates and sent one partial per such round; the leader
      // merged them all and left no site out.
      const leaderNode = cluster.nodes.find((n) => n.nodeId === leader.leader)!;
      // Site k starts on node (k mod 3) + 1: node-1 and node-2 hold 7 sites, node-3 holds 6.
      const followerSites = 20 - (leader.leader === 'node-3' ? 6 : 7);
      expect(leaderNode.partials.leader.partialsMerged).toBe(2 * partialRounds);
      expect(leaderNode.partials.leader.sitesLeftOut).toBe(0);
      for (const f of followers) expect(f.partials.follower.partialsSent).toBe(partialRounds);
      expect(followers.reduce((n, f) => n + f.partials.follower.folded, 0)).toBe(leaderNode.partials.leader.sitesMerged);
      if (partialRounds > 0) expect(cluster.logs.filter((l) => /^round \d attempt 1: merged 2 partial aggregate\(s\)/.test(l))).toHaveLength(partialRounds);
      // What the leader sends the followers' sites crosses Redis batched per node (instruction-fanout.ts): the
      // welcome, terms, model, fit and evaluate of ~13 sites per round go as a few messages, not one per site.
      const fanout = leaderNode.transport.fanout;
      expect(leaderNode.transport.stats.serverSideEmits.get('fedtune:site-sends')).toBe(fanout.messagesSent);
      expect(fanout.sendsSent).toBeGreaterThanOrEqual(3 * 13);
      expect(fanout.messagesSent * 3).toBeLessThanOrEqual(fanout.sendsSent);
      // Every folded site's record reached the leader in a batch (one per flush: real sites answer spread out in time).
      for (const f of followers) expect(f.partials.follower.records.recordsSent).toBe(f.partials.follower.folded);
      const sites = await Promise.all(cluster.siteRuns);
      expect(sites.every((s) => s.completed && s.roundsTrained === 3)).toBe(true);
      // The rounds' global weights left in Redis: the last two rounds' only (older ones deleted as new ones were stored, not left to their TTL).
      const client = await connectClusterRedis(redis.url, { onLost: () => undefined, onRestored: () => undefined });
      try {
        expect((await client.keys(`${prefix}:weights:*`)).length).toBe(partialRounds > 0 ? 2 : 0);
      } finally {
        await client.quit();
      }
      const report = leader.report!;
      const single = await startTestFederation({ sites: 20, rounds: 3, seed: SEED, transport: 'socket', ...SMALL, config: { runId: `cluster-${SEED}`, ...config } });
      const singleReport = await single.coordinator.done;
      await Promise.all(single.siteRuns);
      await single.coordinator.close();
      const singleWeights = readFileSync(join(single.coordinator.runDir, singleReport.final!.modelDir, 'weights.bin'));

      expect(report.rounds).toHaveLength(3);
      for (const r of report.rounds) expect(r.accepted).toHaveLength(20);
      // Every site a follower holds took the partial path in those rounds (none above the norm bound here).
      if (partialRounds > 0) expect(leaderNode.partials.leader.sitesMerged).toBe(partialRounds * followerSites);
      expect(report.rounds.map((r) => r.accepted)).toEqual(singleReport.rounds.map((r) => r.accepted.map((a) => ({ ...a, durationMs: expect.any(Number) }))));
      expect(report.rounds.map((r) => r.updateNorms)).toEqual(singleReport.rounds.map((r) => r.updateNorms));
      expect(report.rounds.map((r) => r.global)).toEqual(singleReport.rounds.map((r) => r.global));
      // Those per-round metrics were measured on the followers (docs/cluster.md, "Evaluation on a follower"): every
      // round's holdout evaluation was answered by the follower asked, none fell back to the leader.
      const evaluation = leaderNode.evaluation.leader.stats;
      expect(evaluation.fallbacks).toBe(0);
      expect(evaluation.delegated).toBeGreaterThanOrEqual(3);
      expect(followers.reduce((n, f) => n + f.evaluation.follower.stats.evaluated, 0)).toBe(evaluation.delegated);
      for (const f of followers) expect(f.evaluation.follower.stats.evaluated).toBeGreaterThanOrEqual(1);
      const weights = readFileSync(join(cluster.runsDir, report.runId, report.final!.modelDir, 'weights.bin'));
      expect(Buffer.compare(weights, singleWeights)).toBe(0);
    } finally {
      await cluster.close();
    }
  }, 240_000);
});
