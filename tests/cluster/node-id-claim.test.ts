import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimNodeId, connectClusterRedis, loadModelDir, nodeIdClaimKey, parseRunConfig, pretrainedModelDir, startClusterNode, type ClusterRedis } from '@fedtune/coordinator';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

/**
 * A node id is claimed in Redis while its node runs. Before, a second process started with the same --node-id ran
 * without a word; the nodes ignore messages carrying their own id, so its sites were never welcomed and the run
 * waited for them for ever (found by an attacker's review: a copied unit file).
 */
describe.runIf(clusterDescribeMode() === 'run')('a node id claimed in the cluster (real Redis)', () => {
  let redis: RedisServer;
  let client: ClusterRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await client?.close();
    await redis?.kill();
  });

  async function node(prefix: string, nodeId: string, log: (line: string) => void = () => {}) {
    const { backend } = await selectNodeBackend();
    return startClusterNode({
      cluster: { redisUrl: redis.url, nodeId, prefix, nodeHeartbeatMs: 100, nodeTimeoutMs: 600 },
      server: { runsDir: tempDir('fedtune-cluster-'), backend, holdout: builtinDigits().holdout, architecture: 'mlp', maxMessageBytes: 16 * 1024 * 1024, host: '127.0.0.1', database: false },
      config: parseRunConfig({ runId: 'claims', rounds: 1, minSites: 1 }),
      loadModel: () => loadModelDir(pretrainedModelDir('mlp')),
      log,
    });
  }

  it('a second node with the id of a running one waits out a claim\'s lifetime, then is refused in one line; after the first stops the id is free at once', async () => {
    const first = await node('claims', 'node-a');
    try {
      const lines: string[] = [];
      const started = Date.now();
      await expect(node('claims', 'node-a', (l) => lines.push(l))).rejects.toMatchObject({
        code: 'config',
        message: `node id node-a is in use by another running node of the cluster on ${redis.url} (prefix claims): give each node its own --node-id (a stopped node's id is free 1 s after it stops; this one waited that long)`,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
      expect(lines).toContain('node id node-a is claimed by another process in the cluster; waiting up to 1 s for the claim to lapse (a node that just stopped)');
      // Another id joins beside it.
      const other = await node('claims', 'node-b');
      await other.close();
    } finally {
      await first.close();
    }
    // Released on close: the same id starts again at once (no wait said).
    expect(await client.get(nodeIdClaimKey('claims', 'node-a'))).toBeNull();
    const lines: string[] = [];
    const again = await node('claims', 'node-a', (l) => lines.push(l));
    await again.close();
    expect(lines.filter((l) => /claimed by another process/.test(l))).toEqual([]);
  }, 120_000);

  it('a claim left by a node that died (not released) lapses: a restart with its id waits for it and starts', async () => {
    // A crashed node's claim: set, never refreshed again.
    await client.set(nodeIdClaimKey('crash', 'node-a'), 'a-dead-process', { PX: 500 });
    const lines: string[] = [];
    const claim = await claimNodeId(client, 'crash', 'node-a', 600, redis.url, { heartbeatMs: 100, onWait: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
    expect(await claim.refresh()).toBe(true);
    await claim.release();
    expect(await client.get(nodeIdClaimKey('crash', 'node-a'))).toBeNull();
  }, 30_000);
});
