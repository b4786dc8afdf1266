import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport, SiteClientOptions, SiteEvent } from '@fedtune/shared';

type ModelFetch = NonNullable<SiteClientOptions['modelFetch']>;
import { tempDir } from '../helpers/federation.ts';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { startClusterSites } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

/**
 * The partial-aggregate path through the faults of docs/cluster.md (real node processes, real Redis,
 * SIGKILL): the leader killed under HTTP model delivery, and Redis restarted while followers fold partials.
 * No norm bound, so every round's follower updates are folded into partials (≥ 6 sites per follower).
 */
const SITES = 20;
const ALL = Array.from({ length: SITES }, (_, k) => `site-${k + 1}`);

function startNode(redisUrl: string, runsDir: string, nodeId: string, runId: string, extra: string[] = []) {
  const node = fedtuneCoordinator(['--cluster', redisUrl, '--node-id', nodeId, '--port', '0', '--out', runsDir, '--run-id', runId, '--rounds', '3', '--min-sites', String(SITES), '--seed', '11', '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '30', '--norm-bound-multiple', '0', ...extra]);
  let out = '';
  node.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { ...node, out: () => out };
}
type Node = ReturnType<typeof startNode>;

async function until(what: string, ok: () => boolean, node: Node, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!ok()) {
    if (Date.now() - started > timeoutMs) throw new Error(`no ${what} within ${timeoutMs} ms: ${node.out().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Three nodes (node-1 first: it leads), then 20 real sites, site k on node (k mod 3) + 1. */
async function cluster(redisUrl: string, runId: string, extra: string[], onSite: (siteId: string, e: SiteEvent, nodes: Node[]) => void, modelFetch?: (siteId: string) => ModelFetch) {
  const runsDir = tempDir('fedtune-partial-recovery-');
  const nodes: Node[] = [startNode(redisUrl, runsDir, 'node-1', runId, extra)];
  await until('leader lease', () => /node node-1 took the leader lease/.test(nodes[0].out()), nodes[0]);
  nodes.push(startNode(redisUrl, runsDir, 'node-2', runId, extra), startNode(redisUrl, runsDir, 'node-3', runId, extra));
  const urls = (await Promise.all(nodes.map((n) => n.url))) as string[];
  expect(urls.every(Boolean)).toBe(true);
  const events: Array<{ siteId: string; e: SiteEvent }> = [];
  const sites = await startClusterSites(urls, {
    sites: SITES,
    seed: 11,
    maxSiteExamples: 40,
    siteOptions: (siteId) => ({
      onEvent: (e) => {
        events.push({ siteId, e });
        onSite(siteId, e, nodes);
      },
      ...(modelFetch ? { modelFetch: modelFetch(siteId) } : {}),
    }),
  });
  return { runsDir, nodes, urls, events, ...sites };
}

function expectEachSiteOnce(report: RunReport): void {
  for (const r of report.rounds) {
    const ids = r.accepted.map((a) => a.siteId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeLessThanOrEqual(SITES);
    for (const id of ids) expect(ALL).toContain(id);
    // Within one attempt a site is accepted or failed, never both (a later attempt may accept a site failed before).
    if (r.attempts === 1) for (const f of r.failed) expect(ids).not.toContain(f.siteId);
  }
}

/** The leader's `merged … partial aggregate(s)` lines, by round. */
function mergedByRound(stdout: string): Map<number, { partials: number; sites: number }> {
  const merged = new Map<number, { partials: number; sites: number }>();
  for (const m of stdout.matchAll(/^round (\d+) attempt \d+: merged (\d+) partial aggregate\(s\) \((\d+) site\(s\)\)/gm)) {
    const round = Number(m[1]);
    const prev = merged.get(round) ?? { partials: 0, sites: 0 };
    merged.set(round, { partials: prev.partials + Number(m[2]), sites: prev.sites + Number(m[3]) });
  }
  return merged;
}

describe.runIf(clusterDescribeMode() === 'run')('partial aggregates through leader and Redis faults (real node processes, real Redis, SIGKILL)', () => {
  let redis: RedisServer;
  const running: Node[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(() => {
    for (const n of running.splice(0)) n.kill();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('the leader SIGKILLed mid-run with --model-delivery http: another node takes the lease, resumes, its followers fold under its plans, sites fetch its versions from their own nodes', async () => {
    const runId = 'partial-http-leader';
    let killed = false;
    let killedAt = Infinity;
    const fetches: Array<{ siteId: string; url: string; status: number; at: number }> = [];
    const c = await cluster(
      redis.url,
      runId,
      ['--model-delivery', 'http'],
      (_siteId, e, nodes) => {
        if (!killed && e.type === 'fit-done' && e.round === 2) {
          killed = true;
          killedAt = Date.now();
          nodes[0].kill();
        }
      },
      (siteId) => async (url, init) => {
        // When the fetch began: one begun before the kill may end after it (from the old leader).
        const at = Date.now();
        const r = await fetch(url, { ...init, headers: { ...init.headers, connection: 'close' } });
        fetches.push({ siteId, url, status: r.status, at });
        return r;
      },
    );
    running.push(...c.nodes);
    const [first, second, third] = await Promise.all(c.nodes.map((n) => n.done));
    expect(first.signal).toBe('SIGKILL');
    expect([second.code, third.code], second.stderr.slice(-500) + third.stderr.slice(-500)).toEqual([0, 0]);
    const newLeader = [second, third].find((x) => /took the leader lease \(fencing token [2-9]/.test(x.stdout))!;
    expect(newLeader).toBeDefined();
    expect(newLeader.stdout).toMatch(new RegExp(`leads run ${runId} \\(resumed after round 1\\)`));
    // The one node left following folded under the new leader's plans (its fencing token): its partial was merged in round 3.
    const merged = mergedByRound(newLeader.stdout);
    expect(merged.get(3)?.partials).toBe(1);
    expect(merged.get(3)!.sites).toBeGreaterThanOrEqual(3);
    // Sites fetched every model over HTTP: after the kill, never from the dead node, always a 200 whose bytes the
    // site verified against the new leader's instruction (no model_integrity refusal, no failure).
    const after = fetches.filter((f) => f.at > killedAt);
    expect(after.length).toBeGreaterThanOrEqual(SITES);
    for (const f of after) {
      expect(f.url.startsWith(c.urls[0])).toBe(false);
      expect(f.status).toBe(200);
    }
    // Round 3's model (version 2, only the new leader ever had it) came from both surviving nodes.
    const v2 = fetches.filter((f) => f.url.includes('/api/v1/models/2/weights'));
    expect(new Set(v2.map((f) => new URL(f.url).origin))).toEqual(new Set([new URL(c.urls[1]).origin, new URL(c.urls[2]).origin]));
    expect(c.events.filter(({ e }) => (e.type === 'failed' || e.type === 'rejected') && e.code === 'model_integrity')).toEqual([]);
    const outcomes = await Promise.all(c.siteRuns);
    expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
    const report = JSON.parse(readFileSync(join(c.runsDir, runId, 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(report.resumedAt).toHaveLength(1);
    expectEachSiteOnce(report);
    expect(report.rounds[2].accepted).toHaveLength(SITES);
  }, 180_000);

  it('Redis restarted mid-run with followers folding partials: every node says cluster recovered, partials are merged after the restart, the run completes, each site once per round', async () => {
    const runId = 'partial-redis-restart';
    let restarted: Promise<void> | undefined;
    let nodesRef: Node[] = [];
    const c = await cluster(redis.url, runId, [], (_siteId, e, nodes) => {
      nodesRef = nodes;
      if (!restarted && e.type === 'fit-done' && e.round === 2) {
        restarted = (async () => {
          await redis.kill();
          await new Promise((r) => setTimeout(r, 1_000));
          redis = await startRedisServer(redis.port);
        })();
      }
    });
    running.push(...c.nodes);
    const exits = await Promise.all(c.nodes.map((n) => n.done));
    await restarted;
    expect(nodesRef).toHaveLength(3);
    expect(exits.map((e) => e.code), exits[0].stderr.slice(-500)).toEqual([0, 0, 0]);
    for (const e of exits) {
      const lines = e.stdout.split('\n').filter((l) => l.startsWith('cluster recovered'));
      // One line per outage: the connection's return. A node whose lease expired during a long outage (a loaded
      // machine) and that takes the lease again afterwards says so on a line of its own (RedisRecoveryReport).
      expect(lines.filter((l) => / is back after /.test(l)), lines.join('\n')).toHaveLength(1);
      expect(lines.filter((l) => !/ is back after /.test(l)).every((l) => /had lost the lease; node \S+ leads again/.test(l)), lines.join('\n')).toBe(true);
    }
    const merged = mergedByRound(exits[0].stdout);
    // Before the restart, and in round 3 (after it): the followers' partials were merged.
    expect(merged.get(1)?.partials).toBe(2);
    expect(merged.get(3)?.partials).toBe(2);
    expect(merged.get(3)?.sites).toBe(SITES - 7);
    const outcomes = await Promise.all(c.siteRuns);
    expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
    const report = JSON.parse(readFileSync(join(c.runsDir, runId, 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expectEachSiteOnce(report);
    // Round 3 ran entirely after the restart: every site, once, 13 of them through partials.
    expect(report.rounds[2].accepted).toHaveLength(SITES);
  }, 180_000);
});
