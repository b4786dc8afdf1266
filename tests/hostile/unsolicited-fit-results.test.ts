import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { MAX_REPORTED_EXAMPLES, verifyAuditChain } from '@fedtune/shared';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite } from './helpers.ts';

/**
 * A joined peer sends fit results nobody asked for — before any round, naming rounds of its choosing, claiming
 * 1e300 examples — and, in the round it was selected for, a valid update that claims a DP-SGD spend in a run
 * without DP-SGD (hostile-peer audit, findings 4 and 5). Before: every result became an audit entry under the
 * round the peer named (kept in memory until the run's end: one per round it named) with its claimed count, and
 * the report listed the ε it claimed. Now: recorded under the coordinator's own round, a claim only when a site
 * could have made it, and no ε where the run asked for none.
 */
it('unsolicited results are audited under the coordinator\'s round, without impossible claims; a claimed ε in a run without DP-SGD is not reported', { timeout: 60_000 }, async () => {
  const coordinator = await startTinyCoordinator({ runId: 'unsolicited', minSites: 2, rounds: 2, config: { runId: 'unsolicited', quorum: 0.5 } });
  try {
    const evil = await attacker(coordinator.url!);
    evil.hello('site-b');
    await evil.next('welcome');
    const weights = new Uint8Array(64);
    for (let i = 0; i < 15; i++) {
      evil.socket.emit('fitResult', { runId: 'unsolicited', round: 1000 + i, siteId: 'site-b', weights, numExamples: 1e300, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    }
    const honest = await honestSite(coordinator.url!, 'site-a');
    const privacy = { epsilon: 1e11, delta: 1e-5, steps: 1, samplingRate: 0.1, noiseMultiplier: 1 };
    for (let round = 1; round <= 2; round++) {
      const fit = await evil.next('fit', 30_000);
      evil.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-b', weights: fit.weights, numExamples: 40, metrics: { loss: 1, accuracy: 0.5, privacy }, durationMs: 1 });
    }
    const report = await coordinator.done;
    expect((await honest.run).completed).toBe(true);
    expect(report.status).toBe('complete');
    // The valid updates were taken; the ε they claimed is not in the report (the run has no DP-SGD).
    const accepted = report.rounds.flatMap((r) => r.accepted).filter((u) => u.siteId === 'site-b');
    expect(accepted).toHaveLength(2);
    for (const u of accepted) expect(u).not.toHaveProperty('epsilon');
    expect(JSON.stringify(report)).not.toContain('100000000000');

    const path = join(coordinator.runDir, 'audit.jsonl');
    expect(existsSync(path)).toBe(true);
    const chain = verifyAuditChain(readFileSync(path, 'utf8'));
    expect(chain.ok).toBe(true);
    if (!chain.ok) return;
    const updates = chain.good.filter((e) => e.type === 'update' && (e.data as { siteId?: string }).siteId === 'site-b').map((e) => e.data as { round: number; numExamples?: number; accepted: boolean });
    // Every update the peer sent is on record — under rounds the run had, never under one it named.
    expect(updates.length).toBeGreaterThanOrEqual(3);
    for (const u of updates) expect(u.round).toBeLessThanOrEqual(2);
    for (const u of updates) if (u.numExamples !== undefined) expect(u.numExamples).toBeLessThanOrEqual(MAX_REPORTED_EXAMPLES);
    expect(updates.filter((u) => u.accepted)).toHaveLength(2);
    // The 15 unsolicited results, all before round 1 and of one site, are at most one pending entry: not 30.
    expect(updates.filter((u) => !u.accepted).length).toBeLessThanOrEqual(2);
    evil.socket.close();
  } finally {
    await coordinator.close();
  }
});
