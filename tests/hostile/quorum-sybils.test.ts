import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type ClientConnector, type RunReport } from '@fedtune/shared';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

/**
 * A few throwaway peers in an open run (no site tokens) must not fail every attempt of a round — and with it the
 * run: after `maxRoundAttempts` failed attempts a run is aborted and `fedtune coordinator` exits. Found by an
 * attacker speaking the wire protocol: three peers answering every fit with an 8-byte update aborted a run in
 * 1.1 s; three that leave when asked to train and rejoin under fresh names, in 2.2 s. A retry now leaves out
 * the sites that failed an earlier attempt of the round and those that joined since it began
 * (coordinator/src/engine/retry-exclusions.ts).
 */

type Mode = 'garbage' | 'leave';

/** A peer that joins under `siteId` and spoils every fit it is given: a garbage update, or it leaves and a fresh name joins. */
async function sybil(connector: () => ClientConnector, siteId: string, mode: Mode, names: { next: number; fits: number }, stop: { done: boolean }): Promise<void> {
  const link = await connector().connect();
  link.onMessage((m) => {
    if (m.event === 'terms') link.send('acceptTerms', { runId: m.payload.terms.runId, siteId, hash: m.payload.hash });
    if (m.event === 'fit') {
      names.fits += 1;
      if (mode === 'garbage') {
        link.sendUnchecked('fitResult', { runId: m.payload.runId, round: m.payload.round, siteId, weights: new Uint8Array(8), numExamples: 1, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
      } else {
        link.close();
        if (!stop.done) setTimeout(() => void sybil(connector, `sybil-${names.next++}`, mode, names, stop), 20);
      }
    }
    if (m.event === 'complete') link.close();
  });
  link.sendUnchecked('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 100 } });
}

async function runWithSybils(mode: Mode): Promise<{ report: RunReport; fits: number }> {
  const fed = await startTestFederation({ sites: 2, rounds: 3, transport: 'memory', maxSiteExamples: 100, runsDir: tempDir(), config: { minSites: 2, federatedEvaluation: 'never', roundTimeoutMs: 20_000 } });
  const names = { next: 3, fits: 0 };
  const stop = { done: false };
  for (let i = 0; i < 3; i++) await sybil(fed.connector, `sybil-${i}`, mode, names, stop);
  const report = await fed.coordinator.done;
  stop.done = true;
  await Promise.all(fed.siteRuns);
  await fed.coordinator.close();
  return { report, fits: names.fits };
}

describe('throwaway peers cannot fail every attempt of a round (open run, quorum 0.5, 3 attempts)', () => {
  it.each(['garbage', 'leave'] as const)('three peers that %s on every fit: the run completes, each round on its honest sites', async (mode) => {
    const { report, fits } = await runWithSybils(mode);
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds).toHaveLength(3);
    // The peers were asked to train (and spoiled those attempts), yet every round ends with the honest sites' updates.
    expect(fits).toBeGreaterThanOrEqual(3);
    expect(report.rounds.some((r) => r.attempts > 1)).toBe(true);
    for (const r of report.rounds) expect(r.accepted.map((a) => a.siteId).sort()).toEqual(['site-1', 'site-2']);
  }, 120_000);
});
