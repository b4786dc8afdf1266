import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_EVENTS, ClusterMessageMac, ClusterModelVersions, connectClusterRedis, loadModelDir, modelVersionKey, parseRunConfig, pretrainedModelDir, secretCheckKey, startClusterNode, type ClusterRedis } from '@fedtune/coordinator';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { startClusterFederation } from '../helpers/cluster-federation.ts';
import { tempDir } from '../helpers/federation.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
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

  /** A 4th node started on the cluster with `secret`: refused before it joins, or (if not) the node. */
  async function startFourthNode(prefix: string, runsDir: string, secret: Uint8Array | undefined, onWarning?: (w: string) => void, timing: { nodeHeartbeatMs?: number; nodeTimeoutMs?: number } = {}, nodeId = 'node-4') {
    const { backend } = await selectNodeBackend();
    return startClusterNode({
      cluster: { redisUrl: redis.url, nodeId, prefix, ...timing },
      server: { runsDir, onWarning, backend, holdout: builtinDigits().holdout, architecture: 'mlp', maxMessageBytes: 16 * 1024 * 1024, host: '127.0.0.1', database: false },
      config: parseRunConfig({ runId: 'cluster-41', rounds: 1, minSites: 1 }),
      loadModel: () => loadModelDir(pretrainedModelDir('mlp')),
      ...(secret ? { secret } : {}),
    });
  }

  it('3 nodes with the secret complete a run of 20 sites (model bytes over HTTP); a node with a wrong secret or none is refused; messages without the MAC or with a wrong one are refused and change nothing', async () => {
    const prefix = 'secret';
    const fed = await startClusterFederation({ redisUrl: redis.url, nodes: 3, sites: 20, rounds: 2, seed: 41, prefix, maxSiteExamples: 40, holdoutExamples: 100, config: { modelDelivery: 'http' }, secret: () => SECRET });
    const [leader] = fed.nodes;
    const attacker = new Server();
    attacker.adapter(createAdapter(attackerRedis, { streamName: `${prefix}:socket.io` }));
    try {
      await until(() => leader.session !== undefined, 'leadership of node-1');
      // Nodes with another secret, or none, cannot join (one clear line each).
      await expect(startFourthNode(prefix, fed.runsDir, WRONG)).rejects.toMatchObject({ code: 'config', message: `this node's cluster secret is not the one of the cluster on ${redis.url} (prefix secret): it does not join (every node needs the same --cluster-secret-file; to rotate it, stop every node and DEL secret:secret-check)` });
      await expect(startFourthNode(prefix, fed.runsDir, undefined)).rejects.toMatchObject({ code: 'config', message: `the cluster on ${redis.url} (prefix secret) authenticates its nodes with a secret: start this node with the same --cluster-secret-file` });
      expect(secretCheckKey(prefix)).toBe('secret:secret-check');
      expect(await attackerRedis.get(secretCheckKey(prefix))).toMatch(/^[0-9a-f]{64}$/);

      // Whoever writes to the stream without the secret, or with another one: a forged end of the run, a forged leader.
      const before = fed.nodes.map((n) => n.transport.refusedByCode.get('unauthorized') ?? 0);
      expect(before).toEqual([0, 0, 0]);
      const forged = { node: 'evil', token: 1_000_000, runId: 'cluster-41', status: 'complete' };
      attacker.serverSideEmit(CLUSTER_EVENTS.runDone, forged);
      attacker.serverSideEmit(CLUSTER_EVENTS.leader, { node: 'evil', token: 1_000_000 });
      attacker.serverSideEmit(CLUSTER_EVENTS.runDone, new ClusterMessageMac(WRONG, 'evil', { windowMs: 60_000 }).seal(CLUSTER_EVENTS.runDone, forged));

      const outcomes = await Promise.all(fed.nodes.map((n) => n.done));
      // Every node ended with the run its own leader completed (node-1, or another node if a loaded machine cost node-1 its lease), never the forged end.
      const led = outcomes.find((o) => o.report)!;
      expect(['node-1', 'node-2', 'node-3']).toContain(led.leader);
      expect(outcomes.map((o) => [o.status, o.leader])).toEqual(Array(3).fill(['complete', led.leader]));
      const report = led.report!;
      expect(report.rounds.map((r) => r.accepted.length)).toEqual([20, 20]);
      const sites = await Promise.all(fed.siteRuns);
      expect(sites.filter((s) => s.completed)).toHaveLength(20);
      // Followers relayed their sites and read every model version from Redis with the leader's MAC, refusing none.
      for (const f of fed.nodes.filter((n) => n.nodeId !== led.leader)) {
        expect(f.modelVersions.fetchedFromRedis, f.nodeId).toBeGreaterThan(0);
        expect(f.modelVersions.refusedIntegrity, f.nodeId).toBe(0);
        expect(f.transport.relayedTotal, f.nodeId).toBeGreaterThan(0);
      }
      // The 3 forged messages were refused (unauthorized) on every node, and nothing else was.
      expect(fed.nodes.map((n) => n.transport.refusedByCode.get('unauthorized'))).toEqual([3, 3, 3]);
      expect(fed.logs.join('\n')).not.toMatch(/clusters without a secret/);
      expect(fed.logs.join('\n')).not.toContain(SECRET.toString());
    } finally {
      // No HTTP server to close: stop the adapter's timers only.
      (attacker.of('/').adapter as unknown as { close(): void }).close();
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

  it('a node clustering without a secret says so in one warning line on start', async () => {
    for (const [secret, lines] of [[undefined, 1], [SECRET, 0]] as const) {
      const warnings: string[] = [];
      const node = await startFourthNode(`no-secret-${lines}`, tempDir('fedtune-cluster-'), secret, (w) => warnings.push(w));
      await node.close();
      expect(warnings.filter((w) => /clusters without a secret/.test(w))).toEqual(lines ? ['node node-4 clusters without a secret: anyone who can write to Redis can speak for a node (--cluster-secret-file; docs/cluster.md#trust-and-deployment)'] : []);
    }
  });

  it('a node with a secret is refused while nodes without one run (their mark lapses a node timeout after the last stops); then it starts and the cluster has its proof', async () => {
    const prefix = 'mixed-secrets';
    const timing = { nodeHeartbeatMs: 100, nodeTimeoutMs: 600 };
    const secretless = await startFourthNode(prefix, tempDir('fedtune-cluster-'), undefined, undefined, timing);
    try {
      expect(await attackerRedis.get(secretCheckKey(prefix))).toBe('none');
      const ttl = await attackerRedis.pTTL(secretCheckKey(prefix));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(600);
      // Past its first ttl the running node has refreshed the mark: a node with a secret is still refused.
      await new Promise((r) => setTimeout(r, 1_000));
      await expect(startFourthNode(prefix, tempDir('fedtune-cluster-'), SECRET, undefined, timing)).rejects.toMatchObject({
        code: 'config',
        message: `the cluster on ${redis.url} (prefix mixed-secrets) has nodes running without a cluster secret: this node does not join (start every node with the same --cluster-secret-file, or none; their mark lapses 1 s after the last of them stops)`,
      });
      // Another node without a secret joins (and keeps the mark).
      const second = await startFourthNode(prefix, tempDir('fedtune-cluster-'), undefined, undefined, timing, 'node-5');
      await second.close();
    } finally {
      await secretless.close();
    }
    await new Promise((r) => setTimeout(r, 800));
    expect(await attackerRedis.get(secretCheckKey(prefix))).toBeNull();
    const withSecret = await startFourthNode(prefix, tempDir('fedtune-cluster-'), SECRET, undefined, timing);
    await withSecret.close();
    expect(await attackerRedis.get(secretCheckKey(prefix))).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('fedtune coordinator --cluster-secret-file: a wrong secret, a short one and a missing file are one clear line each (status 1), never the secret', async () => {
    const dir = tempDir('fedtune-cluster-secret-cli-');
    // The cluster (prefix fedtune, the CLI's default) already has its secret's proof in Redis.
    await attackerRedis.set(secretCheckKey('fedtune'), new ClusterMessageMac(SECRET, 'node-1', { windowMs: 60_000 }).tagText('fedtune cluster secret check\nfedtune'));
    const wrong = join(dir, 'wrong.secret');
    writeFileSync(wrong, `${WRONG.toString()}\n`);
    const short = join(dir, 'short.secret');
    writeFileSync(short, 'short-secret\n');
    const cases: Array<[string[], NodeJS.ProcessEnv | undefined, RegExp]> = [
      [['--cluster-secret-file', wrong], undefined, /this node's cluster secret is not the one of the cluster on redis:\/\/127\.0\.0\.1:\d+ \(prefix fedtune\): it does not join/],
      [[], { ...process.env, FEDTUNE_CLUSTER_SECRET_FILE: short }, /the cluster secret in .*short\.secret is 12 bytes; at least 32 are needed/],
      [['--cluster-secret-file', join(dir, 'missing')], undefined, /--cluster-secret-file .*missing: no such file/],
    ];
    const exits = await Promise.all(cases.map(([args, env]) => fedtune(['coordinator', '--cluster', redis.url, '--port', '0', '--out', join(dir, 'runs'), ...args], undefined, { env }).done));
    for (const [k, exit] of exits.entries()) {
      expect(exit.code, exit.stderr).toBe(1);
      const lines = exit.stderr.trim().split('\n');
      expect(lines, exit.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(cases[k][2]);
      expect(exit.stdout + exit.stderr).not.toContain(WRONG.toString());
      expect(exit.stdout + exit.stderr).not.toContain('short-secret');
    }
  }, 120_000);
});
