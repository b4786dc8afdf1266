import { createHash } from 'node:crypto';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_EVENTS, ClusterMessageMac, ClusterModelVersions, connectClusterRedis, modelVersionKey, type ClusterRedis } from '@fedtune/coordinator';
import { startClusterFederation, startClusterSites } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SECRET = Buffer.from('the-cluster-secret-of-this-test-0123456789');
const WRONG = Buffer.from('another-secret-of-another-cluster-987654321');

async function until(check: () => boolean, what: string, ms = 120_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.runIf(clusterDescribeMode() === 'run')('a cluster secret (--cluster-secret-file): real nodes, real Redis', () => {
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

  it('3 nodes with the secret complete a run of 20 sites (model bytes over HTTP); a node with a wrong secret and a Redis writer without it are refused and change nothing', async () => {
    const prefix = 'secret';
    // node-1..3 share the secret; node-4 has another one.
    const fed = await startClusterFederation({
      redisUrl: redis.url,
      nodes: 4,
      sites: 20,
      rounds: 2,
      seed: 41,
      prefix,
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { modelDelivery: 'http' },
      secret: (k) => (k === 3 ? WRONG : SECRET),
      sitesOn: 3,
    });
    const [leader, , , intruder] = fed.nodes;
    const attacker = new Server();
    attacker.adapter(createAdapter(attackerRedis, { streamName: `${prefix}:socket.io` }));
    // A site that only knows the intruding node: its hello is relayed under the wrong secret.
    const lost = await startClusterSites([intruder.url], { sites: 1, seed: 41, maxSiteExamples: 40, siteOptions: () => ({ siteId: 'intruder-site', reconnect: { retries: 0, baseDelayMs: 100 } }) });
    try {
      await until(() => leader.session !== undefined, 'leadership of node-1');
      // Whoever writes to the stream without the secret, or with another one: a forged end of the run.
      const forged = { node: 'evil', token: 1_000_000, runId: 'cluster-41', status: 'complete' };
      attacker.serverSideEmit(CLUSTER_EVENTS.runDone, forged);
      attacker.serverSideEmit(CLUSTER_EVENTS.leader, { node: 'evil', token: 1_000_000 });
      attacker.serverSideEmit(CLUSTER_EVENTS.runDone, new ClusterMessageMac(WRONG, 'evil', { windowMs: 60_000 }).seal(CLUSTER_EVENTS.runDone, forged));

      const outcomes = await Promise.all(fed.nodes.slice(0, 3).map((n) => n.done));
      expect(outcomes.map((o) => [o.status, o.leader])).toEqual([['complete', 'node-1'], ['complete', 'node-1'], ['complete', 'node-1']]);
      const report = outcomes[0].report!;
      expect(report.rounds.map((r) => r.accepted.length)).toEqual([20, 20]);
      expect(report.rounds.flatMap((r) => [...r.accepted.map((a) => a.siteId), ...r.failed.map((f) => f.siteId)])).not.toContain('intruder-site');
      const sites = await Promise.all(fed.siteRuns);
      expect(sites.filter((s) => s.completed)).toHaveLength(20);
      // Followers read every model version from Redis with the leader's MAC, and refused none.
      for (const f of fed.nodes.slice(1, 3)) {
        expect(f.modelVersions.fetchedFromRedis, f.nodeId).toBeGreaterThan(0);
        expect(f.modelVersions.refusedIntegrity, f.nodeId).toBe(0);
        expect(f.transport.relayedTotal, f.nodeId).toBeGreaterThan(0);
      }
      // The forged messages and the intruder's were refused (counted as unauthorized) on every node with the secret…
      for (const n of fed.nodes.slice(0, 3)) expect(n.transport.refusedByCode.get('unauthorized') ?? 0, n.nodeId).toBeGreaterThanOrEqual(3);
      // …and the intruder refuses theirs: nodes with different secrets do not form a cluster.
      expect(intruder.transport.refusedByCode.get('unauthorized') ?? 0).toBeGreaterThan(0);
      expect(intruder.transport.remoteSites + leader.transport.remoteSites).toBe(0);
      expect(fed.logs.join('\n')).not.toMatch(/clusters without a secret/);
      expect(fed.logs.join('\n')).not.toContain(SECRET.toString());
    } finally {
      attacker.close();
      for (const c of lost.clients) c.stop();
      await fed.close();
    }
  }, 300_000);

  it('a model version in Redis is served only with the MAC of a node holding the secret', async () => {
    const prefix = 'secret-versions';
    const mac = new ClusterMessageMac(SECRET, 'node-1', { windowMs: 60_000 });
    const leader = new ClusterModelVersions({ redis: attackerRedis, prefix, mac });
    const bytes = new Uint8Array(64).fill(7);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    leader.publish({ version: 1, bytes, sha256 });
    const warnings: string[] = [];
    const follower = () => new ClusterModelVersions({ redis: attackerRedis, prefix, mac: new ClusterMessageMac(SECRET, 'node-2', { windowMs: 60_000 }), onWarning: (w) => warnings.push(w) });
    await until(() => true, 'publish');
    await new Promise((r) => setTimeout(r, 200));
    const good = follower();
    expect((await good.get(1))?.sha256).toBe(sha256);
    // A writer without the secret replaces the bytes (consistent with their own sha-256): no MAC, or a wrong one.
    const other = new Uint8Array(64).fill(9);
    const otherSha = createHash('sha256').update(other).digest('hex');
    for (const [what, macField] of [['no', undefined], ['a wrong', new ClusterMessageMac(WRONG, 'x', { windowMs: 60_000 }).tagText(`${modelVersionKey(prefix, 1)}\n${otherSha}`)]] as const) {
      await attackerRedis.del(modelVersionKey(prefix, 1));
      await attackerRedis.hSet(modelVersionKey(prefix, 1), { sha256: otherSha, bytes: Buffer.from(other), ...(macField ? { mac: macField } : {}) });
      const f = follower();
      expect(await f.get(1), what).toBeUndefined();
      expect(f.refusedIntegrity, what).toBe(1);
      expect(warnings.at(-1)).toBe(`model version 1 in Redis has ${what} MAC (not written by a node with this cluster's secret): not served`);
    }
    // Without a secret the same (consistent) bytes would be served: the MAC is what refuses them.
    expect((await new ClusterModelVersions({ redis: attackerRedis, prefix }).get(1))?.sha256).toBe(otherSha);
  });
});
