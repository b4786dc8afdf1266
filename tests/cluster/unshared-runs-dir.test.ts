import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isFedtuneError } from '@fedtune/shared';
import { connectClusterRedis } from '../../coordinator/src/cluster/redis-connection.ts';
import { checkpointedRound, checkRunsDirectoryShared, recordCheckpointedRound, runCheckpointKey } from '../../coordinator/src/cluster/run-checkpoint-record.ts';
import { tempDir } from '../helpers/federation.ts';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { startClusterSites } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const refusal = (f: () => void): string => {
  try {
    f();
  } catch (err) {
    expect(isFedtuneError(err) && err.code).toBe('config');
    return (err as Error).message;
  }
  return '';
};

describe('checkRunsDirectoryShared: a node leads a run only with the files of the rounds the cluster checkpointed', () => {
  const base = { nodeId: 'node-2', runId: 'r', runsDir: '/srv/b' };
  it.each([
    [0, undefined, ''],
    [0, 2, ''],
    [2, 2, ''],
    [1, 3, ''],
    [1, undefined, "node node-2 cannot lead run r: the cluster checkpointed its round 1, but this node's runs directory (/srv/b) holds no checkpoint of it — every node of a cluster must share one --out directory (docs/cluster.md)"],
    [4, 3, "node node-2 cannot lead run r: the cluster checkpointed its round 4, but this node's runs directory (/srv/b) holds only round 3 — every node of a cluster must share one --out directory (docs/cluster.md)"],
  ])('cluster round %s, this node\'s latest checkpoint %s', (clusterRound, localRound, expected) => {
    expect(refusal(() => checkRunsDirectoryShared({ ...base, clusterRound, localRound }))).toBe(expected);
  });
});

describe.runIf(clusterDescribeMode() === 'run')('a cluster node whose --out is not the shared runs directory (real node processes, real Redis)', () => {
  let redis: RedisServer;
  const running: Array<ReturnType<typeof fedtuneCoordinator>> = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(() => {
    for (const n of running.splice(0)) n.kill();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('the record: written per run, read back only for that run; anything else in the key reads as none', async () => {
    const client = await connectClusterRedis(redis.url, { onLost: () => undefined, onRestored: () => undefined });
    try {
      await recordCheckpointedRound(client, 'p:run', 'run-a', 3);
      expect(await client.get(runCheckpointKey('p:run'))).toBe('run-a 3');
      expect(await checkpointedRound(client, 'p:run', 'run-a')).toBe(3);
      expect(await checkpointedRound(client, 'p:run', 'run-b')).toBe(0);
      expect(await checkpointedRound(client, 'q:run', 'run-a')).toBe(0);
      for (const junk of ['run-a', 'run-a x', 'run-a 3 4', 'run-a -1', `run-a ${'9'.repeat(12)}`]) {
        await client.set(runCheckpointKey('p:run'), junk);
        expect(await checkpointedRound(client, 'p:run', 'run-a')).toBe(0);
      }
    } finally {
      await client.quit();
    }
  });

  it('its leader killed after round 1, the node with another --out refuses to lead (one line, the lease released) instead of starting the run over in its own directory', async () => {
    const shared = tempDir('fedtune-cluster-shared-');
    const other = tempDir('fedtune-cluster-other-');
    const runId = 'unshared';
    const args = (nodeId: string, out: string) => ['--cluster', redis.url, '--node-id', nodeId, '--port', '0', '--out', out, '--run-id', runId, '--rounds', '3', '--min-sites', '4', '--seed', '5', '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '30'];
    const lines: string[] = [];
    const first = fedtuneCoordinator(args('node-1', shared), { onLine: (l) => lines.push(l) });
    running.push(first);
    const firstUrl = await first.url;
    while (!lines.some((l) => /node node-1 took the leader lease/.test(l))) await new Promise((r) => setTimeout(r, 100));
    const second = fedtuneCoordinator(args('node-2', other));
    running.push(second);
    const urls = [firstUrl!, (await second.url)!];
    let killed = false;
    const sites = await startClusterSites(urls, {
      sites: 4,
      seed: 5,
      maxSiteExamples: 40,
      siteOptions: () => ({
        reconnect: { retries: 3, baseDelayMs: 100, maxDelayMs: 300 },
        onEvent: (e) => {
          if (!killed && e.type === 'fit-done' && e.round === 2) {
            killed = true;
            first.kill();
          }
        },
      }),
    });
    const ended = await second.done;
    expect(killed).toBe(true);
    expect(ended.stdout).toContain(`node node-2 took the leader lease`);
    expect(ended.stdout).toContain(`node node-2 could not lead the run: node node-2 cannot lead run ${runId}: the cluster checkpointed its round 1, but this node's runs directory (${other}) holds no checkpoint of it — every node of a cluster must share one --out directory (docs/cluster.md)`);
    expect(ended.stdout).not.toMatch(/leads run unshared/);
    expect(ended.stderr).not.toMatch(/\n\s+at /);
    // Nothing of the run was started over in the other directory.
    expect(existsSync(join(other, runId)) ? readdirSync(join(other, runId)) : []).toEqual([]);
    for (const c of sites.clients) c.stop();
    await Promise.allSettled(sites.siteRuns);
  }, 300_000);
});
