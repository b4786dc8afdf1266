import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClusterRedis, type ClusterRedis } from '@fedtune/coordinator';
import { verifyAuditChain, type RunReport } from '@fedtune/shared';
import { startClusterFederation, startClusterSites } from '../helpers/cluster-federation.ts';
import { fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const SITES = 20;
const STEPPED_DOWN = /^node node-1 lost the leader lease \(fencing token 1\): another node leads; this node's run stops and its sites rejoin the new leader$/;

function expectNothingCountedTwice(report: RunReport): void {
  for (const r of report.rounds) {
    const ids = r.accepted.map((a) => a.siteId);
    expect(new Set(ids).size).toBe(ids.length);
  }
}

/**
 * A leader that loses its lease while alive (a stall longer than the lease time: the lease expired and another
 * node took it with a later token). Its run stops; its own sites must rejoin the new leader rather than be told
 * the run is over. Before the fix the stopped run sent them 'complete' and the new leader waited in vain
 * ("only 13 of 20 sites joined"); then, while both believed they led (the old one learns it only at its next
 * renewal), sites were welcomed by both. Now a leader steps down the moment it hears of a later token.
 * Real sites over socket.io, a real redis-server.
 */
describe.runIf(clusterDescribeMode() === 'run')('the leader lease lost by a live leader mid-round', () => {
  let redis: RedisServer;
  let admin: ClusterRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
    admin = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await admin?.close();
    await redis?.kill();
  });

  /**
   * 3 nodes and SITES real sites; when the first site finishes its fit of round `atRound`, the lease is changed in
   * Redis under the live leader: as if it had stalled past its lease, the lease is gone and a later token (5) handed out.
   */
  async function federationLosingTheLease(o: { prefix: string; rounds: number; seed: number; atRound: number }) {
    let forced = false;
    const cluster = await startClusterFederation({
      redisUrl: redis.url,
      nodes: 3,
      sites: SITES,
      rounds: o.rounds,
      // A short lease (renewed every 1.3 s) so that the live leader hears of the change while the run still goes on.
      leaseTtlMs: 4_000,
      seed: o.seed,
      prefix: o.prefix,
      config: { normBoundMultiple: 0 },
      maxSiteExamples: 40,
      holdoutExamples: 100,
      siteOptions: () => ({
        reconnect: { retries: 60, baseDelayMs: 100, maxDelayMs: 1_000 },
        onEvent: (e) => {
          if (forced || e.type !== 'fit-done' || e.round !== o.atRound) return;
          forced = true;
          // One transaction: a renewal between a DEL and a SET would find the lease free with the old fence and re-take it.
          void admin.multi().set(`${o.prefix}:fence`, '5').del(`${o.prefix}:leader`).exec();
        },
      }),
    });
    return { cluster, forced: () => forced };
  }

  it('lease changed in Redis while the leader lives: another node leads (a later token), every site rejoins it, the run completes with every site', async () => {
    const run = await federationLosingTheLease({ prefix: 'lease-lost', rounds: 4, seed: 29, atRound: 2 });
    const { cluster } = run;
    try {
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      // Not forced: no site finished a fit of round 2 (the run ended before it): the statuses and the logs say why.
      expect(run.forced(), `${outcomes.map((o) => o.status).join(', ')}\n${cluster.logs.join('\n')}`).toBe(true);
      expect(cluster.logs.filter((l) => STEPPED_DOWN.test(l))).toHaveLength(1);
      const leader = outcomes.find((o) => o.report)!;
      expect(leader, `no node's outcome has the report: ${outcomes.map((o) => `${o.leader}: ${o.status}`).join(', ')}\n${cluster.logs.join('\n')}`).toBeDefined();
      // A later lease (token > 5, handed out after the change) leads the rest of the run: usually another node, but the
      // node that stepped down may itself take the free lease again as a follower would (it resumes like any other).
      expect(cluster.logs.some((l) => new RegExp(`^node ${leader.leader} took the leader lease \\(fencing token ([6-9]|\\d{2,})\\)`).test(l))).toBe(true);
      expect(outcomes.map((o) => o.status), `${leader.report?.aborted}\n${cluster.logs.join('\n')}`).toEqual(['complete', 'complete', 'complete']);
      // It resumed from the checkpoint of round 1.
      expect(leader.report!.resumedAt).toHaveLength(1);
      expect(leader.report!.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
      expectNothingCountedTwice(leader.report!);
      const last = leader.report!.rounds.at(-1)!;
      expect(last.accepted).toHaveLength(SITES);
      const sites = await Promise.all(cluster.siteRuns);
      expect(sites.filter((s) => s.completed)).toHaveLength(SITES);
    } finally {
      await cluster.close();
    }
  }, 240_000);

  it('lease lost in the first round, before any checkpoint: the next leader starts the run over in the same directory, and it completes with every site', async () => {
    // Found under load (a renewal late past a 4 s lease): the next leader found the run's directory begun and no
    // checkpoint, refused it as a run that "already exists", and so did every node after it: the cluster failed.
    const run = await federationLosingTheLease({ prefix: 'lease-lost-first', rounds: 3, seed: 31, atRound: 1 });
    const { cluster } = run;
    try {
      const outcomes = await Promise.all(cluster.nodes.map((n) => n.done));
      const logs = cluster.logs.join('\n');
      expect(run.forced(), logs).toBe(true);
      expect(cluster.logs.filter((l) => STEPPED_DOWN.test(l)), logs).toHaveLength(1);
      expect(cluster.logs.filter((l) => l.includes('could not lead')), logs).toEqual([]);
      expect(outcomes.map((o) => o.status), logs).toEqual(['complete', 'complete', 'complete']);
      const leader = outcomes.find((o) => o.report)!;
      // A later lease (token > 5) leads: usually another node, or node-1 itself taking the free lease again.
      expect(cluster.logs.some((l) => new RegExp(`^node ${leader.leader} took the leader lease \\(fencing token ([6-9]|\\d{2,})\\)`).test(l)), logs).toBe(true);
      // Started over (no checkpoint to resume from), every round with every site, nothing counted twice.
      expect(leader.report!.resumedAt).toBeUndefined();
      expect(leader.report!.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
      expectNothingCountedTwice(leader.report!);
      expect(leader.report!.rounds.at(-1)!.accepted).toHaveLength(SITES);
      const runDir = join(cluster.runsDir, leader.report!.runId);
      // One audit chain across both leaders: the second run start says it resumed after round 0.
      const audit = readFileSync(join(runDir, 'audit.jsonl'), 'utf8');
      const verdict = verifyAuditChain(audit);
      expect(verdict.ok, verdict.ok ? '' : verdict.message).toBe(true);
      const starts = audit.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; data: { resumedAfterRound?: number } }).filter((e) => e.type === 'run-start');
      expect(starts.map((e) => e.data.resumedAfterRound)).toEqual([undefined, 0]);
      const sites = await Promise.all(cluster.siteRuns);
      expect(sites.filter((s) => s.completed)).toHaveLength(SITES);
    } finally {
      await cluster.close();
    }
  }, 240_000);
});

/** A process and its descendants (the `fedtune` bin may run the coordinator in a child). */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  return [pid, ...children.flatMap(processTree)];
}

describe.runIf(clusterDescribeMode() === 'run')('a leader paused past its lease (SIGSTOP, then SIGCONT; real node processes)', () => {
  let redis: RedisServer;
  const running: Array<ReturnType<typeof fedtuneCoordinator>> = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(() => {
    for (const n of running.splice(0)) {
      for (const pid of n.child.pid ? processTree(n.child.pid) : []) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
      n.kill();
    }
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('another node takes the lease and resumes; the resumed old leader steps down in one line; every site completes, nothing counted twice', async () => {
    const runsDir = tempDir('fedtune-cluster-paused-');
    const runId = 'paused-leader';
    const out = new Map<string, string>();
    const start = (nodeId: string) => {
      out.set(nodeId, '');
      const node = fedtuneCoordinator(['--cluster', redis.url, '--node-id', nodeId, '--port', '0', '--out', runsDir, '--run-id', runId, '--rounds', '3', '--min-sites', String(SITES), '--seed', '7', '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '60'], {
        onLine: (line) => out.set(nodeId, `${out.get(nodeId)}${line}\n`),
      });
      running.push(node);
      return node;
    };
    const waitFor = async (what: () => boolean, label: string, timeoutMs = 120_000) => {
      const started = Date.now();
      while (!what()) {
        if (Date.now() - started > timeoutMs) throw new Error(`no ${label} within ${timeoutMs} ms:\n${[...out].map(([k, v]) => `${k}:\n${v.slice(-1500)}`).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const node1 = start('node-1');
    await waitFor(() => /node node-1 took the leader lease/.test(out.get('node-1')!), 'lease for node-1');
    const nodes = [node1, start('node-2'), start('node-3')];
    const urls = (await Promise.all(nodes.map((n) => n.url))) as string[];
    expect(urls.every(Boolean)).toBe(true);

    let paused: Promise<void> | undefined;
    const pauseLeader = async () => {
      const pids = processTree(node1.child.pid!);
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      // Paused past its lease (10 s): another node takes it with a later token.
      await waitFor(() => /took the leader lease \(fencing token [2-9]/.test(`${out.get('node-2')}${out.get('node-3')}`), 'new leader');
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    };
    const sites = await startClusterSites(urls, {
      sites: SITES,
      seed: 7,
      maxSiteExamples: 40,
      siteOptions: () => ({
        reconnect: { retries: 60, baseDelayMs: 100, maxDelayMs: 1_000 },
        onEvent: (e) => {
          if (!paused && e.type === 'fit-done' && e.round === 2) paused = pauseLeader();
        },
      }),
    });
    const exits = await Promise.all(nodes.map((n) => n.done));
    await paused;
    expect(exits.map((e) => e.code), exits.map((e, k) => `node-${k + 1}:\n${e.stdout}${e.stderr.slice(-500)}`).join('\n')).toEqual([0, 0, 0]);
    // The old leader steps down and says so, once.
    expect(exits[0].stdout.split('\n').filter((l) => STEPPED_DOWN.test(l))).toHaveLength(1);
    const took = exits.slice(1).filter((e) => /took the leader lease \(fencing token [2-9]/.test(e.stdout));
    expect(took).toHaveLength(1);
    expect(took[0].stdout).toMatch(/leads run paused-leader \(resumed after round 1\)/);
    const outcomes = await Promise.all(sites.siteRuns);
    expect(outcomes.filter((o) => o.completed).map((o) => o.siteId)).toHaveLength(SITES);
    const report = JSON.parse(readFileSync(join(runsDir, runId, 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(report.resumedAt).toHaveLength(1);
    expectNothingCountedTwice(report);
    expect(report.rounds[2].accepted).toHaveLength(SITES);
  }, 300_000);
});
