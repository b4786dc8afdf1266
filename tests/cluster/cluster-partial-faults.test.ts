import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failoverConnector, socketIoConnector, type ClientConnector, type CoordinatorLink, type RunReport } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { startClusterSites } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SITES = 20;
/** Site k starts on node (k mod 3) + 1: node-3 holds site-3, site-6, …, site-18. */
const NODE_3_SITES = Array.from({ length: SITES }, (_, k) => k).filter((k) => k % 3 === 2).map((k) => `site-${k + 1}`);

function startNode(redisUrl: string, runsDir: string, nodeId: string, runId: string) {
  // No norm bound: round 1's updates are certain to be kept, so the followers fold them (the partial path).
  const node = fedtuneCoordinator(['--cluster', redisUrl, '--node-id', nodeId, '--port', '0', '--out', runsDir, '--run-id', runId, '--rounds', '2', '--min-sites', String(SITES), '--seed', '7', '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '30', '--norm-bound-multiple', '0']);
  let out = '';
  node.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { ...node, out: () => out };
}
type Node = ReturnType<typeof startNode>;

async function until(what: string, ok: () => boolean, node: Node, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  while (!ok()) {
    if (Date.now() - started > timeoutMs) throw new Error(`no ${what} within ${timeoutMs} ms: ${node.out().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A site's connector whose round-1 fit result waits for `gate` (keeps the round open while a node is killed). */
function gatedConnector(inner: ClientConnector, gate: Promise<void>): ClientConnector {
  return {
    async connect(): Promise<CoordinatorLink> {
      const link = await inner.connect();
      const send = link.send.bind(link);
      link.send = ((event: string, payload: { round?: number }) => {
        if (event === 'fitResult' && payload.round === 1) void gate.then(() => send(event as never, payload as never));
        else send(event as never, payload as never);
      }) as CoordinatorLink['send'];
      return link;
    },
  };
}

describe.runIf(clusterDescribeMode() === 'run')('partial aggregates under a fault (real node processes, real Redis, SIGKILL)', () => {
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

  it('a follower SIGKILLed after its acceptance records, before its partial: the round completes without its sites, nothing counted twice', async () => {
    const runId = 'partial-fault';
    const runsDir = tempDir('fedtune-partial-fault-');
    const nodes: Node[] = [startNode(redis.url, runsDir, 'node-1', runId)];
    running.push(nodes[0]);
    await until('leader lease', () => /node node-1 took the leader lease/.test(nodes[0].out()), nodes[0]);
    nodes.push(startNode(redis.url, runsDir, 'node-2', runId), startNode(redis.url, runsDir, 'node-3', runId));
    running.push(nodes[1], nodes[2]);
    const urls = (await Promise.all(nodes.map((n) => n.url))) as string[];
    expect(urls.every(Boolean)).toBe(true);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const doneOnNode3 = new Set<string>();
    let killed: Promise<unknown> | undefined;
    const sites = await startClusterSites(urls, {
      sites: SITES,
      seed: 7,
      maxSiteExamples: 40,
      siteOptions: (siteId) => ({
        // site-1 (on the leader) holds round 1 open until node-3 is gone.
        ...(siteId === 'site-1' ? { connector: gatedConnector(failoverConnector(urls.map((url) => socketIoConnector({ url }))), gate) } : {}),
        onEvent: (e) => {
          if (e.type !== 'fit-done' || e.round !== 1 || !NODE_3_SITES.includes(siteId)) return;
          doneOnNode3.add(siteId);
          if (doneOnNode3.size === NODE_3_SITES.length && !killed) {
            // Every node-3 site sent its update: node-3 validated, folded and recorded them (its log says nothing
            // of it; give it a moment), and holds its partial until the round closes. It dies now.
            killed = new Promise((r) => setTimeout(r, 2_000)).then(() => {
              nodes[2].kill();
              return nodes[2].done;
            }).then(() => release());
          }
        },
      }),
    });
    const [leader, second, third] = await Promise.all(nodes.map((n) => n.done));
    expect(third.signal).toBe('SIGKILL');
    expect(leader.code, leader.stderr.slice(-1000)).toBe(0);
    expect(second.code).toBe(0);
    const outcomes = await Promise.all(sites.siteRuns);
    expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);

    const report = JSON.parse(readFileSync(join(runsDir, runId, 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2]);
    const [r1, r2] = report.rounds;
    // Round 1: node-3's sites were accepted by node-3 (records) but its partial never came: they are out of the
    // round — not in `accepted`, failed with the reason — and the sum holds node-1's and node-2's sites only.
    expect(r1.accepted.map((a) => a.siteId).sort()).toEqual(Array.from({ length: SITES }, (_, k) => `site-${k + 1}`).filter((s) => !NODE_3_SITES.includes(s)).sort());
    expect(r1.failed.map((f) => f.siteId).sort()).toEqual([...NODE_3_SITES].sort());
    for (const f of r1.failed) expect(f.reason).toMatch(/^node node-3 accepted the update but its partial aggregate was left out \(no partial aggregate within 10000 ms\)$/);
    expect(leader.stdout).toMatch(/round 1 attempt 1: merged 1 partial aggregate\(s\) \(7 site\(s\)\) from node-2; left out 6 site\(s\) of node-3 \(no partial\)/);
    for (const r of report.rounds) {
      const ids = r.accepted.map((a) => a.siteId);
      expect(new Set(ids).size).toBe(ids.length);
      for (const f of r.failed) expect(ids).not.toContain(f.siteId);
    }
    // Round 2 goes on with the sites that rejoined (node-3's through the other nodes).
    expect(r2.accepted.length).toBeGreaterThanOrEqual(SITES - NODE_3_SITES.length);
  }, 300_000);
});
