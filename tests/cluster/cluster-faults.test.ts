import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain, type RunReport, type SiteEvent } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { startClusterSites } from '../helpers/cluster-federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SITES = 20;

/** One `fedtune coordinator --cluster` node as a child process, with every stdout line kept. */
function startNode(redisUrl: string, runsDir: string, nodeId: string, runId: string) {
  const node = fedtuneCoordinator(['--cluster', redisUrl, '--node-id', nodeId, '--port', '0', '--out', runsDir, '--run-id', runId, '--rounds', '3', '--min-sites', String(SITES), '--seed', '5', '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '30']);
  return node;
}

type Node = ReturnType<typeof startNode>;

async function stdoutHas(node: Node, pattern: RegExp, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  while (!pattern.test(await peek(node))) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`node exited before ${pattern}: ${await peek(node)}`);
    if (Date.now() - started > timeoutMs) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${await peek(node)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const outputs = new WeakMap<Node, string>();
function track(node: Node): Node {
  outputs.set(node, '');
  node.child.stdout!.on('data', (d: Buffer) => outputs.set(node, outputs.get(node)! + d.toString()));
  return node;
}
const peek = async (node: Node) => outputs.get(node) ?? '';

/** Three nodes, node-1 first (it takes the lease), then 20 sites spread over them; `onSite` may kill things. */
async function cluster(redis: RedisServer, runId: string, onSite: (siteId: string, e: SiteEvent, nodes: Node[]) => void) {
  const runsDir = tempDir('fedtune-cluster-faults-');
  const nodes: Node[] = [];
  nodes.push(track(startNode(redis.url, runsDir, 'node-1', runId)));
  await stdoutHas(nodes[0], /node node-1 took the leader lease/);
  nodes.push(track(startNode(redis.url, runsDir, 'node-2', runId)), track(startNode(redis.url, runsDir, 'node-3', runId)));
  const urls = (await Promise.all(nodes.map((n) => n.url))) as string[];
  expect(urls.every(Boolean)).toBe(true);
  const sites = await startClusterSites(urls, { sites: SITES, seed: 5, maxSiteExamples: 40, siteOptions: (siteId) => ({ onEvent: (e) => onSite(siteId, e, nodes) }) });
  return { runsDir, nodes, ...sites };
}

function expectNothingCountedTwice(report: RunReport): void {
  for (const r of report.rounds) {
    const ids = r.accepted.map((a) => a.siteId);
    expect(new Set(ids).size).toBe(ids.length);
  }
}

describe.runIf(clusterDescribeMode() === 'run')('a coordinator cluster under faults (real node processes, real Redis, SIGKILL)', () => {
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

  it('a follower killed mid-round: its sites reconnect through another node, the round and the run complete, nothing counted twice', async () => {
    let killed = false;
    const c = await cluster(redis, 'faults-follower', (_site, e, nodes) => {
      if (!killed && e.type === 'fit-done' && e.round === 2) {
        killed = true;
        nodes[1].kill();
      }
    });
    running.push(...c.nodes);
    const [leader, , other] = await Promise.all(c.nodes.map((n) => n.done));
    expect(killed).toBe(true);
    expect(leader.code).toBe(0);
    expect(other.code).toBe(0);
    const outcomes = await Promise.all(c.siteRuns);
    expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
    const report = JSON.parse(readFileSync(join(c.runsDir, 'faults-follower', 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds).toHaveLength(3);
    expectNothingCountedTwice(report);
    expect(report.rounds[2].accepted).toHaveLength(SITES);
  }, 400_000);

  it('the leader killed mid-round, its audit log\'s last line cut short: another node takes the lease, recovers the log (tail moved aside, recorded) and resumes from the last checkpoint; the run completes', async () => {
    let killed = false;
    let auditPath = '';
    // What a power loss leaves: the last batch's line half on disk. Appended once the leader is gone, before a node takes the lease.
    const torn = '{"seq":999,"at":"2026-12-07T00:00:00.000Z","type":"upd';
    const c = await cluster(redis, 'faults-leader', (_site, e, nodes) => {
      if (!killed && e.type === 'fit-done' && e.round === 2) {
        killed = true;
        nodes[0].child.once('exit', () => {
          if (auditPath) appendFileSync(auditPath, torn);
        });
        nodes[0].kill();
      }
    });
    auditPath = join(c.runsDir, 'faults-leader', 'audit.jsonl');
    running.push(...c.nodes);
    const [first, second, third] = await Promise.all(c.nodes.map((n) => n.done));
    expect(first.signal).toBe('SIGKILL');
    expect(second.code).toBe(0);
    expect(third.code).toBe(0);
    const took = [second.stdout, third.stdout].filter((s) => /took the leader lease \(fencing token [2-9]/.test(s));
    expect(took).toHaveLength(1);
    expect(took[0]).toMatch(/leads run faults-leader \(resumed after round 1\)/);
    const outcomes = await Promise.all(c.siteRuns);
    expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
    const report = JSON.parse(readFileSync(join(c.runsDir, 'faults-leader', 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(report.resumedAt).toHaveLength(1);
    expectNothingCountedTwice(report);
    const newLeader = [second, third].find((s) => /took the leader lease \(fencing token [2-9]/.test(s.stdout))!;
    expect(newLeader.stdout + newLeader.stderr).toMatch(new RegExp(`the audit log's last line was cut short by a crash \\(${torn.length} bytes after seq \\d+\\): moved aside to audit\\.jsonl\\.torn-\\d+, and recorded in the log`));
    const chain = verifyAuditChain(readFileSync(auditPath, 'utf8'));
    expect(chain.ok, chain.ok ? '' : chain.message).toBe(true);
    if (!chain.ok) return;
    const recovery = chain.good.find((e) => e.type === 'recovery')!;
    expect(recovery.data).toMatchObject({ reason: 'torn-tail', action: 'moved-aside', bytes: torn.length });
    expect(readFileSync(join(c.runsDir, 'faults-leader', String(recovery.data.savedAs)), 'utf8')).toBe(torn);
    // The new leader's run-start follows the recovery; the run's end is the chain's last entry.
    expect(chain.good[recovery.seq + 1]).toMatchObject({ type: 'run-start', data: { resumedAfterRound: 1 } });
    expect(chain.good.at(-1)).toMatchObject({ type: 'complete', data: { status: 'complete' } });
  }, 400_000);

  it('Redis restarted mid-run: the nodes reconnect, the leader re-establishes its lease and says so in one line, the run completes', async () => {
    let restarted: Promise<void> | undefined;
    const c = await cluster(redis, 'faults-redis', (_site, e) => {
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
    expect(exits.map((e) => e.code), exits[0].stderr.slice(-500)).toEqual([0, 0, 0]);
    const recovered = exits[0].stdout.split('\n').filter((l) => l.startsWith('cluster recovered'));
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatch(/^cluster recovered: Redis at redis:\/\/127\.0\.0\.1:\d+ is back after \d+\.\d s; node node-1 (leads again \(lease re-established, fencing token \d+\)|still leads \(fencing token \d+\))$/);
    const outcomes = await Promise.all(c.siteRuns);
    expect(outcomes.filter((o) => o.completed)).toHaveLength(SITES);
    const report = JSON.parse(readFileSync(join(c.runsDir, 'faults-redis', 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expectNothingCountedTwice(report);
  }, 400_000);
});
