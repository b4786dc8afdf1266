import { describe, expect, it } from 'vitest';
import { RdpAccountant, computeEpsilon } from '../../shared/src/privacy/rdp-accountant.ts';
import { MemoryPrivacyLedger } from '../../shared/src/policy/privacy-ledger-accounts.ts';
import { SitePolicy } from '../../shared/src/policy/site-policy.ts';
import type { SiteEvent } from '../../shared/src/client/site-client.ts';
import { startTestFederation } from '../helpers/federation.ts';

const Z = 1.3;
const DELTA = 1e-5;
/** A batch larger than any site's data: one DP-SGD step per epoch at q = 1, so ε does not depend on the split. */
const train = { epochs: 1, batchSize: 64, learningRate: 0.05, optimizer: 'sgd' as const, trainable: 'all' as const, dpSgd: { clip: 1, noiseMultiplier: Z, delta: DELTA } };
const epsAfter = (rounds: number) => new RdpAccountant().step(Z, 1, rounds).getEpsilon(DELTA).epsilon;

describe('the privacy ledger in a run', () => {
  it('maxEpsilonPerRun stops a site at the round that would exceed it; maxEpsilonTotal makes it refuse the next run at join', async () => {
    const ledger = new MemoryPrivacyLedger();
    const events: SiteEvent[] = [];
    const limited = (privacy: object) => (siteId: string) =>
      siteId === 'site-1' ? { privacyLedger: ledger, privacyPolicy: SitePolicy.parse({ privacy }).privacy } : {};
    const first = await startTestFederation({
      sites: 3, rounds: 3, transport: 'memory', maxSiteExamples: 40, holdoutExamples: 100,
      config: { runId: 'ledger-run-1', minSites: 2, federatedEvaluation: 'never', train },
      siteOptions: limited({ maxEpsilonPerRun: epsAfter(2) }),
      onSiteEvent: (id, e) => id === 'site-1' && events.push(e),
    });
    const report = await first.coordinator.done;
    await Promise.all(first.siteRuns);
    await first.coordinator.close();
    expect(report.status).toBe('complete');
    // Rounds 1 and 2 fit the limit exactly; round 3 would not, so site-1 refused it before training.
    expect(report.rounds.map((r) => r.accepted.some((a) => a.siteId === 'site-1'))).toEqual([true, true, false]);
    expect(report.rounds[2].failed.find((f) => f.siteId === 'site-1')?.reason).toMatch(/privacy_budget|maxEpsilonPerRun/);
    expect(events.filter((e) => e.type === 'failed').map((e) => (e as { code: string }).code)).toEqual(['privacy_budget']);
    expect(ledger.entries.map((e) => e.round)).toEqual([1, 2]);
    expect(ledger.runEpsilon('ledger-run-1')).toBe(epsAfter(2));
    // What the coordinator was told equals the ledger, round by round.
    expect(report.rounds.slice(0, 2).map((r) => r.accepted.find((a) => a.siteId === 'site-1')!.ledger)).toEqual([
      { runEpsilon: epsAfter(1), totalEpsilon: epsAfter(1) },
      { runEpsilon: epsAfter(2), totalEpsilon: epsAfter(2) },
    ]);
    // Sites without a ledger of their own send no totals.
    expect(report.rounds[0].accepted.filter((a) => a.ledger).map((a) => a.siteId)).toEqual(['site-1']);

    // The next run: at its total, site-1 refuses at join; the run goes on without it and its ledger is unchanged.
    const second = await startTestFederation({
      sites: 3, rounds: 1, transport: 'memory', maxSiteExamples: 40, holdoutExamples: 100,
      config: { runId: 'ledger-run-2', minSites: 2, federatedEvaluation: 'never', train },
      siteOptions: limited({ maxEpsilonTotal: epsAfter(2) }),
    });
    const outcomes = await Promise.all(second.siteRuns);
    const report2 = await second.coordinator.done;
    await second.coordinator.close();
    const site1 = outcomes.find((o) => o.siteId === 'site-1')!;
    expect(site1.completed).toBe(false);
    expect(site1.roundsTrained).toBe(0);
    expect(site1.reason).toContain('its maxEpsilonTotal');
    expect(report2.status).toBe('complete');
    expect(report2.rounds[0].accepted.map((a) => a.siteId)).not.toContain('site-1');
    expect(ledger.entries).toHaveLength(2);
    expect(ledger.totalEpsilon()).toBe(epsAfter(2));
  }, 120_000);

  it('20 sites over socket.io with DP-SGD: the report shows each site\'s ledger ε, equal to its own ledger and its accountant', async () => {
    const ledgers = new Map<string, MemoryPrivacyLedger>();
    const batchSize = 8;
    const fed = await startTestFederation({
      sites: 20, rounds: 2, transport: 'socket', maxSiteExamples: 40, holdoutExamples: 100,
      config: { runId: 'ledger-20', federatedEvaluation: 'never', train: { ...train, batchSize } },
      siteOptions: (siteId) => {
        const l = new MemoryPrivacyLedger();
        ledgers.set(siteId, l);
        return { privacyLedger: l };
      },
    });
    const report = await fed.coordinator.done;
    await Promise.all(fed.siteRuns);
    await fed.coordinator.close();
    expect(report.status).toBe('complete');
    for (const [r, round] of report.rounds.entries()) {
      expect(round.accepted).toHaveLength(20);
      for (const a of round.accepted) {
        const n = a.numExamples;
        const expected = computeEpsilon({ samplingRate: batchSize / n, noiseMultiplier: Z, steps: (r + 1) * Math.floor(n / batchSize), delta: DELTA }).epsilon;
        expect(a.ledger!.runEpsilon).toBeCloseTo(expected, 10);
        expect(a.ledger!.totalEpsilon).toBe(a.ledger!.runEpsilon);
        expect(a.epsilon).toBe(a.ledger!.runEpsilon);
        if (r === report.rounds.length - 1) expect(ledgers.get(a.siteId)!.runEpsilon('ledger-20')).toBe(a.ledger!.runEpsilon);
      }
    }
  }, 180_000);
});
