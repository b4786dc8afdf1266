import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SMALL = { maxSiteExamples: 40, holdoutExamples: 100 };

/** One run of 3 nodes and 9 sites (2 rounds) with every node's evaluationTimeoutMs set. */
async function runWith(redisUrl: string, evaluationTimeoutMs: number, prefix: string) {
  const cluster = await startClusterFederation({ redisUrl, nodes: 3, sites: 9, rounds: 2, seed: 41, prefix, cluster: { evaluationTimeoutMs }, ...SMALL });
  try {
    const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
    await Promise.all(cluster.siteRuns);
    const leader = outcomes.find((o) => o.report)!;
    const leaderNode = cluster.nodes.find((n) => n.nodeId === leader.leader)!;
    const followers = cluster.nodes.filter((n) => n !== leaderNode);
    return {
      statuses: outcomes.map((o) => o.status),
      global: leader.report!.rounds.map((r) => r.global),
      pretrained: leader.report!.pretrained,
      leader: { ...leaderNode.evaluation.leader.stats },
      followersEvaluated: followers.reduce((n, f) => n + f.evaluation.follower.stats.evaluated, 0),
      logs: cluster.logs,
    };
  } finally {
    await cluster.close();
  }
}

/**
 * ClusterOptions.evaluationTimeoutMs has an effect (docs/cluster.md, "Evaluation on a follower"): 0 keeps every
 * holdout evaluation on the leader; a timeout no follower can meet makes the leader evaluate itself after asking,
 * and says so. The numbers are the same in both, and the same as when the followers answer
 * (cluster-federation.test.ts compares those with one coordinator).
 */
describe.runIf(clusterDescribeMode() === 'run')('evaluationTimeoutMs over a real cluster (3 nodes, Redis, 9 sites)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('0: the leader evaluates every model itself; 1 ms: it asks, gives up and evaluates itself; 10 s: the followers answer; the same metrics in all three', async () => {
    const off = await runWith(redis.url, 0, 'eval-off');
    expect(off.statuses).toEqual(['complete', 'complete', 'complete']);
    expect(off.leader).toMatchObject({ delegated: 0, fallbacks: 0 });
    expect(off.followersEvaluated).toBe(0);

    const impatient = await runWith(redis.url, 1, 'eval-1ms');
    expect(impatient.statuses).toEqual(['complete', 'complete', 'complete']);
    expect(impatient.leader.fallbacks).toBeGreaterThanOrEqual(2);
    expect(impatient.leader.lastFallback).toMatch(/^node node-\d did not answer within 1 ms$/);
    expect(impatient.logs.filter((l) => /^holdout evaluation on this node: node node-\d did not answer within 1 ms$/.test(l)).length).toBe(impatient.leader.fallbacks);

    const patient = await runWith(redis.url, 10_000, 'eval-10s');
    expect(patient.leader).toMatchObject({ fallbacks: 0 });
    expect(patient.leader.delegated).toBeGreaterThanOrEqual(2);
    expect(patient.followersEvaluated).toBe(patient.leader.delegated);

    expect(impatient.global).toEqual(off.global);
    expect(patient.global).toEqual(off.global);
    expect(patient.pretrained).toEqual(off.pretrained);
  }, 300_000);
});
