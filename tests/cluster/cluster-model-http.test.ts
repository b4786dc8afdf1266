import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { siteName, type RunReport } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { startClusterSites } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SITES = 20;
const ROUNDS = 2;

interface Fetched {
  status: number;
  sha256: string;
  headers: Record<string, string | null>;
  body: string;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  // A kept-alive connection the server just closed resets the request (a loaded machine): ask again, on a new one.
  let r: Response | undefined;
  for (let attempt = 0; !r; attempt++) {
    r = await fetch(url, { headers: { ...headers, connection: 'close' } }).catch((err) => {
      if (attempt >= 3) throw err;
      return undefined;
    });
  }
  const bytes = Buffer.from(await r.arrayBuffer());
  const pick = ['etag', 'cache-control', 'content-type', 'content-length'];
  return { status: r.status, sha256: createHash('sha256').update(bytes).digest('hex'), headers: Object.fromEntries(pick.map((h) => [h, r.headers.get(h)])), body: bytes.subarray(0, 4000).toString('utf8') };
}

/** What one follower answers next to the leader, for the model version `path` its sites just fetched. */
async function compareNodes(leader: string, follower: string, path: string) {
  const fromLeader = await get(new URL(path, leader).toString());
  const fromFollower = await get(new URL(path, follower).toString());
  const notModified = await get(new URL(path, follower).toString(), { 'if-none-match': fromFollower.headers.etag! });
  const unknown = await get(new URL('/api/v1/models/999999/weights', follower).toString());
  const hostile = await Promise.all(['-1', 'abc', '1e3', '99999999999', '%00', '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(5_000), '1;rm', '0x10'].map(async (v) => ({ v, r: await get(new URL(`/api/v1/models/${v}/weights`, follower).toString()) })));
  return { fromLeader, fromFollower, notModified, unknown, hostile };
}

describe.runIf(clusterDescribeMode() === 'run')('model bytes over HTTP from every node of a cluster (real node processes, real Redis, 20 sites)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it("sites on the follower fetch every model from their own node; it serves the leader's bytes and headers; a follower with an unreadable holdout starts and serves", async () => {
    const runsDir = tempDir('fedtune-cluster-http-');
    const common = ['--port', '0', '--out', runsDir, '--run-id', 'cluster-http', '--rounds', String(ROUNDS), '--min-sites', String(SITES), '--seed', '3', '--robustness', 'never', '--round-timeout', '60', '--model-delivery', 'http'];
    const leader = fedtuneCoordinator(['--cluster', redis.url, '--node-id', 'node-1', ...common]);
    const leaderUrl = (await leader.url)!;
    expect(leaderUrl).toBeTruthy();
    // The follower is given a holdout that cannot be read: only a leader reads it.
    const follower = fedtuneCoordinator(['--cluster', redis.url, '--node-id', 'node-2', ...common, '--holdout', join(runsDir, 'no-such-holdout.csv')]);
    try {
      const followerUrl = (await follower.url)!;
      expect(followerUrl).toBeTruthy();
      const urls = [leaderUrl, followerUrl];
      /** The node (origin) each site fetched each model from. */
      const fetchedFrom = new Map<string, string[]>();
      let comparison: Promise<Awaited<ReturnType<typeof compareNodes>> | Error> | undefined;
      const sites = await startClusterSites(urls, {
        sites: SITES,
        seed: 3,
        maxSiteExamples: 40,
        siteOptions: (siteId) => ({
          modelFetch: async (url, init) => {
            const target = new URL(url);
            fetchedFrom.set(siteId, [...(fetchedFrom.get(siteId) ?? []), target.origin]);
            const response = await fetch(url, init);
            // The first model a follower's site got: compare both nodes on it while the run goes on.
            if (target.origin === new URL(followerUrl).origin && !comparison) comparison = compareNodes(leaderUrl, followerUrl, target.pathname).catch((err: Error) => err);
            return response;
          },
        }),
      });
      const outcomes = await Promise.all(sites.siteRuns);
      const [leaderExit, followerExit] = await Promise.all([leader.done, follower.done]);
      expect(leaderExit.code, leaderExit.stderr.slice(-500)).toBe(0);
      expect(followerExit.code, followerExit.stderr.slice(-500)).toBe(0);
      expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
      const report = JSON.parse(readFileSync(join(runsDir, 'cluster-http', 'report.json'), 'utf8')) as RunReport;
      expect(report.status).toBe('complete');
      expect(report.rounds.map((r) => r.accepted.length)).toEqual(Array(ROUNDS).fill(SITES));

      // Requests per node: every site fetched each model (≥ one per round) from the node it is connected to.
      const perNode = new Map<string, number>();
      for (let k = 0; k < SITES; k++) {
        const origins = fetchedFrom.get(siteName(k)) ?? [];
        expect(origins.length, siteName(k)).toBeGreaterThanOrEqual(ROUNDS);
        expect(new Set(origins), siteName(k)).toEqual(new Set([new URL(urls[k % 2]).origin]));
        for (const o of origins) perNode.set(o, (perNode.get(o) ?? 0) + 1);
      }
      expect(perNode.get(new URL(followerUrl).origin)).toBeGreaterThanOrEqual((SITES / 2) * ROUNDS);
      expect(perNode.get(new URL(leaderUrl).origin)).toBeGreaterThanOrEqual((SITES / 2) * ROUNDS);

      expect(comparison).toBeDefined();
      const c = await comparison!;
      if (c instanceof Error) throw c;
      expect(c.fromFollower.status).toBe(200);
      expect(c.fromLeader.status).toBe(200);
      expect(c.fromFollower.sha256).toBe(c.fromLeader.sha256);
      expect(c.fromFollower.headers).toEqual(c.fromLeader.headers);
      expect(c.fromFollower.headers.etag).toBe(`"${c.fromFollower.sha256}"`);
      expect(c.fromFollower.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(c.fromFollower.headers['content-type']).toBe('application/octet-stream');
      expect(c.notModified.status).toBe(304);
      expect(c.notModified.headers.etag).toBe(c.fromFollower.headers.etag);
      expect(c.unknown.status).toBe(404);
      expect(JSON.parse(c.unknown.body)).toMatchObject({ error: { code: 'not_found', message: 'this coordinator does not hold model version 999999' } });
      for (const { v, r } of c.hostile) {
        expect([400, 404, 414], v.slice(0, 20)).toContain(r.status);
        expect(r.body.length, v.slice(0, 20)).toBeLessThan(1_000);
        // A typed error (fastify's own 414 aside), its message clipped.
        if (r.status !== 414) expect(JSON.parse(r.body).error.code, v.slice(0, 20)).toMatch(/^(config|malformed_payload|not_found)$/);
      }
      expect(followerExit.stdout).toMatch(/cluster node node-2 listening on/);
      expect(followerExit.stdout + followerExit.stderr).not.toMatch(/no-such-holdout/);
    } finally {
      for (const n of [leader, follower]) n.kill();
    }
  }, 400_000);
});
