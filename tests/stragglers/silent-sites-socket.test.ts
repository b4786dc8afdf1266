import { describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, type Attacker } from '../hostile/helpers.ts';

/**
 * Sites that join and never answer (a hung process, a half-open connection, or a peer doing it on purpose), over
 * real socket.io with 20 sites: 16 honest SiteClients and 4 raw peers that accept the run's terms and then ignore
 * every instruction. Before: every round they were sampled in waited for them until roundTimeoutMs (300 s by
 * default). Now they sit out a cooldown after each miss (stragglers.maxCooldownRounds), and a round may stop
 * waiting soon after its quorum (stragglers.waitAfterQuorumMs). docs/operations.md#sites-that-do-not-answer.
 */

const HONEST = Array.from({ length: 16 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
const SILENT = ['silent-1', 'silent-2', 'silent-3', 'silent-4'];

/** What the coordinator's HTTP API shows once the run is over (the silent peers still connected). */
interface ApiViews {
  sites: Array<{ siteId: string; missedRounds?: number }>;
  roundsCooling: number[];
  metrics: string;
}

async function federation(runId: string, config: Record<string, unknown>, rounds: number): Promise<{ report: RunReport; honestCompleted: boolean[]; silentReceived: string[][]; api: ApiViews }> {
  const coordinator = await startTinyCoordinator({ runId, minSites: 20, rounds, config: { runId, quorum: 0.5, ...config } });
  const silent: Attacker[] = [];
  try {
    for (const id of SILENT) {
      const peer = await attacker(coordinator.url!);
      peer.hello(id);
      await peer.next('welcome');
      silent.push(peer);
    }
    const honest = await Promise.all(HONEST.map((id, i) => honestSite(coordinator.url!, id, { seed: i + 10 })));
    const report = await coordinator.done;
    const outcomes = await Promise.all(honest.map((h) => h.run));
    // The silent peers were asked to train (they did join) and never answered.
    for (const peer of silent) expect(peer.received.some((m) => m.event === 'fit')).toBe(true);
    const json = async (path: string) => (await fetch(`${coordinator.url}${path}`)).json() as Promise<Record<string, never>>;
    const api: ApiViews = {
      sites: (await json(`/api/runs/${runId}/sites`)).sites,
      roundsCooling: ((await json(`/api/runs/${runId}/rounds`)).rounds as Array<{ cooling: number }>).map((r) => r.cooling),
      metrics: await (await fetch(`${coordinator.url}/metrics`)).text(),
    };
    return {
      api, report, honestCompleted: outcomes.map((o) => o.completed), silentReceived: silent.map((peer) => peer.received.map((m) => m.event)) };
  } finally {
    for (const peer of silent) peer.socket.close();
    await coordinator.close();
  }
}

const failedIds = (r: RunReport['rounds'][number]) => r.failed.map((f) => f.siteId).sort();

describe('sites that never answer (real socket.io, 20 sites)', () => {
  it('sit out 1, then 2 rounds after their misses (the default cooldown); the honest sites are in every round; federated evaluation and calibration do not ask them', { timeout: 120_000 }, async () => {
    const { report, honestCompleted, silentReceived, api } = await federation('silent-cooldown', { roundTimeoutMs: 3_000, federatedEvaluation: 'final', calibration: { source: 'federated' } }, 5);
    expect(report.status).toBe('complete');
    expect(honestCompleted.every(Boolean)).toBe(true);
    const [r1, r2, r3, r4, r5] = report.rounds;
    // Round 1: everyone sampled; the 4 silent sites miss (3 s) and cool down for 1 round.
    expect(r1.selected).toHaveLength(20);
    expect(failedIds(r1)).toEqual(SILENT);
    for (const f of r1.failed) expect(f.reason).toBe('no result within 3000 ms');
    expect(r1.cooling).toBeUndefined();
    // Round 2: they sit out; the round does not wait for them.
    expect(r2.selected).toEqual(HONEST);
    expect(r2.cooling).toEqual({ count: 4, sites: SILENT });
    expect(r2.failed).toEqual([]);
    // Round 3: asked again, miss again: now 2 rounds out.
    expect(r3.selected).toHaveLength(20);
    expect(failedIds(r3)).toEqual(SILENT);
    for (const r of [r4, r5]) {
      expect(r.selected).toEqual(HONEST);
      expect(r.cooling?.count).toBe(4);
    }
    for (const r of report.rounds) expect(r.accepted.map((a) => a.siteId).sort()).toEqual(HONEST);
    // The final federated evaluation asked only the sites not cooling down: it did not wait for the silent ones.
    expect(r5.federated?.sites.map((s) => s.siteId).sort()).toEqual(HONEST);
    // Nor did the federated temperature fit before it (before: its first question waited for them until the deadline).
    expect(r5.robustness?.calibration?.source).toBe('federated');
    for (const events of silentReceived) {
      expect(events.filter((e) => e === 'fit')).toHaveLength(2);
      expect(events).not.toContain('evaluate');
    }
    // The operator's views: the rounds listing's counts, the live sites' misses in a row, the metric.
    expect(api.roundsCooling).toEqual([0, 4, 0, 4, 4]);
    for (const id of SILENT) expect(api.sites.find((x) => x.siteId === id)?.missedRounds).toBe(2);
    for (const x of api.sites) if (!SILENT.includes(x.siteId)) expect(x.missedRounds).toBeUndefined();
    expect(api.metrics).toMatch(/^fedtune_sites_sitting_out 4$/m);
    // Rounds without them are not held to the deadline (a round of 16 tiny sites takes well under 3 s here).
    expect(r2.durationMs).toBeLessThan(r1.durationMs);
    expect(r4.durationMs).toBeLessThan(r3.durationMs);
  });

  it('with --wait-after-quorum a round stops waiting soon after its quorum; with --straggler-cooldown 0 the silent sites are asked every round', { timeout: 120_000 }, async () => {
    const { report, honestCompleted } = await federation('silent-quorum-wait', { roundTimeoutMs: 120_000, federatedEvaluation: 'never', stragglers: { waitAfterQuorumMs: 300, maxCooldownRounds: 0 } }, 2);
    expect(report.status).toBe('complete');
    expect(honestCompleted.every(Boolean)).toBe(true);
    for (const r of report.rounds) {
      expect(r.selected).toHaveLength(20);
      expect(r.cooling).toBeUndefined();
      expect(failedIds(r)).toEqual(SILENT);
      for (const f of r.failed) expect(f.reason).toBe("no result within 300 ms after the round's quorum of 10 results (stragglers.waitAfterQuorumMs)");
      // Closed long before the 120 s deadline: the 16 honest results had come in (or all but a few).
      expect(r.durationMs).toBeLessThan(60_000);
      expect(r.accepted.length).toBeGreaterThanOrEqual(10);
    }
  });
});

describe('silent sites and --wait-after-quorum with the default cooldown (real socket.io, 20 sites)', () => {
  it('a silent site the quorum wait cut off is busy, not asked again before its fit\'s deadline: one wait in the run, not one per round', { timeout: 120_000 }, async () => {
    const { report, honestCompleted, silentReceived } = await federation('silent-busy', { roundTimeoutMs: 120_000, federatedEvaluation: 'never', stragglers: { waitAfterQuorumMs: 300 } }, 4);
    expect(report.status).toBe('complete');
    expect(honestCompleted.every(Boolean)).toBe(true);
    const [first, ...later] = report.rounds;
    expect(first.selected).toHaveLength(20);
    expect(failedIds(first)).toEqual(expect.arrayContaining(SILENT));
    for (const r of later) {
      // Still "training" round 1's fit (its deadline is 120 s away): not sampled, listed as busy, never cooling.
      expect(r.selected.filter((id) => SILENT.includes(id))).toEqual([]);
      expect(r.busy?.sites).toEqual(expect.arrayContaining(SILENT));
      expect(r.cooling).toBeUndefined();
    }
    // One fit each, in the whole run (before: one per round, each waited for 300 ms past the quorum).
    for (const events of silentReceived) expect(events.filter((e) => e === 'fit')).toHaveLength(1);
  });
});

describe('the per-site report after the final round', () => {
  it('does not ask (nor wait for) sites cooling down: they are listed as missing with why; the honest sites report', { timeout: 120_000 }, async () => {
    const { report } = await federation('silent-site-report', { roundTimeoutMs: 3_000, personalization: { mode: 'head', epochs: 1, localOnly: false } }, 1);
    expect(report.status).toBe('complete');
    const section = report.siteReport!;
    expect(section.sites.map((s) => s.siteId).sort()).toEqual(HONEST);
    expect(section.missing.map((m) => m.siteId).sort()).toEqual(SILENT);
    for (const m of section.missing) expect(m.reason).toBe('not asked: it gave no answer in a recent round (1 in a row; stragglers.maxCooldownRounds)');
  });
});

describe('stragglers.waitAfterQuorumMs with secure aggregation', () => {
  it('is refused as a config error (a secure round has its own phase deadlines), not ignored', async () => {
    await expect(startTinyCoordinator({ runId: 'secure-wait', config: { runId: 'secure-wait', secureAggregation: { clip: 1 }, stragglers: { waitAfterQuorumMs: 100 } } })).rejects.toMatchObject({
      code: 'config',
      message: expect.stringContaining('stragglers.waitAfterQuorumMs'),
    });
  });
});
