import { describe, expect, it } from 'vitest';
import { RdpAccountant, computeEpsilon } from '../../shared/src/privacy/rdp-accountant.ts';
import { MemoryPrivacyLedger } from '../../shared/src/policy/privacy-ledger-accounts.ts';
import { SitePolicy } from '../../shared/src/policy/site-policy.ts';
import type { SiteEvent } from '../../shared/src/client/site-client.ts';
import type { RunTerms } from '../../shared/src/messages/run-terms.ts';
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
      sites: 3, rounds: 4, transport: 'memory', maxSiteExamples: 40, holdoutExamples: 100,
      config: { runId: 'ledger-run-1', minSites: 2, federatedEvaluation: 'never', train },
      siteOptions: limited({ maxEpsilonPerRun: epsAfter(2) }),
      onSiteEvent: (id, e) => id === 'site-1' && events.push(e),
    });
    const report = await first.coordinator.done;
    await Promise.all(first.siteRuns);
    await first.coordinator.close();
    expect(report.status).toBe('complete');
    // Its first two rounds fit the limit exactly; the third would not, so site-1 refused it (and any later one) before training.
    const mine = report.rounds.filter((r) => r.selected.includes('site-1'));
    expect(mine.length).toBeGreaterThanOrEqual(3);
    expect(mine.map((r) => r.accepted.some((a) => a.siteId === 'site-1'))).toEqual([true, true, ...mine.slice(2).map(() => false)]);
    expect(mine[2].failed.find((f) => f.siteId === 'site-1')?.reason).toContain('maxEpsilonPerRun');
    expect(new Set(events.filter((e) => e.type === 'failed').map((e) => (e as { code: string }).code))).toEqual(new Set(['privacy_budget']));
    expect(ledger.entries.map((e) => e.round)).toEqual([mine[0].round, mine[1].round]);
    expect(ledger.runEpsilon('ledger-run-1')).toBe(epsAfter(2));
    // What the coordinator was told equals the ledger, round by round.
    expect(mine.slice(0, 2).map((r) => r.accepted.find((a) => a.siteId === 'site-1')!.ledger)).toEqual([
      { runEpsilon: epsAfter(1), totalEpsilon: epsAfter(1) },
      { runEpsilon: epsAfter(2), totalEpsilon: epsAfter(2) },
    ]);
    // Sites without a ledger of their own send no totals.
    expect(mine[0].accepted.filter((a) => a.ledger).map((a) => a.siteId)).toEqual(['site-1']);

    // The next run: at its total, site-1 refuses the run's terms at join — its limit now comes from its site policy
    // (the --policy file's privacy section), the reason on both sides; the run goes on without it and its ledger is unchanged.
    const second = await startTestFederation({
      sites: 3, rounds: 1, transport: 'memory', maxSiteExamples: 40, holdoutExamples: 100,
      config: { runId: 'ledger-run-2', minSites: 2, federatedEvaluation: 'never', train },
      siteOptions: (siteId) => (siteId === 'site-1' ? { privacyLedger: ledger, policy: SitePolicy.parse({ privacy: { maxEpsilonTotal: epsAfter(2) } }) } : {}),
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
    expect(report2.termsRefusals?.sites.map((r) => [r.siteId, r.reason])).toEqual([['site-1', expect.stringContaining('its maxEpsilonTotal')]]);
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

describe('client-level DP in the ledger', () => {
  it('a site that accepted terms with dp accounts one q = 1 step per round it contributed to, and stops at its per-run limit', async () => {
    const dpZ = 4;
    const dpDelta = 1e-5;
    const qOne = (rounds: number) => new RdpAccountant().step(dpZ, 1, rounds).getEpsilon(dpDelta).epsilon;
    const ledger = new MemoryPrivacyLedger();
    const runId = 'ledger-client-dp';
    const hash = 'b'.repeat(64);
    const terms: RunTerms = {
      runId, coordinator: hash, rounds: 3, minSites: 2, fraction: 1,
      model: { architecture: 'mlp', topologyHash: hash, initialWeightsHash: hash, parameters: 1 },
      train: { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all' },
      maxExamplesPerSite: 1000, federatedEvaluation: 'never',
      dp: { noiseMultiplier: dpZ, clip: 1, delta: dpDelta, noise: 'central' },
    };
    // The site has accepted the run's terms before it joins (as the terms check will do at join).
    const fed = await startTestFederation({
      sites: 3, rounds: 4, transport: 'memory', maxSiteExamples: 40, holdoutExamples: 100,
      config: { runId, minSites: 2, fraction: 1, federatedEvaluation: 'never', dp: { noiseMultiplier: dpZ, clip: 1, delta: dpDelta } },
      siteOptions: (siteId) => (siteId === 'site-3' ? { privacyLedger: ledger, privacyPolicy: SitePolicy.parse({ privacy: { maxEpsilonPerRun: qOne(2) } }).privacy } : {}),
      beforeRun: (clients) => clients[2].acceptRunTerms(terms),
    });
    const report = await fed.coordinator.done;
    await Promise.all(fed.siteRuns);
    await fed.coordinator.close();
    expect(report.status).toBe('complete');
    // The rounds site-3 was in (the run may start before it joins): the first two fit its limit, the next is refused.
    const mine = report.rounds.filter((r) => r.selected.includes('site-3'));
    expect(mine.length).toBeGreaterThanOrEqual(3);
    expect(ledger.entries.map((e) => [e.round, e.kind])).toEqual([[mine[0].round, 'client'], [mine[1].round, 'client']]);
    expect(ledger.account(runId, 'client')!.state.history).toEqual([{ noiseMultiplier: dpZ, samplingRate: 1, steps: 2 }]);
    expect(ledger.runEpsilon(runId)).toBe(qOne(2));
    expect(mine.map((r) => r.accepted.some((a) => a.siteId === 'site-3'))).toEqual([true, true, ...mine.slice(2).map(() => false)]);
    expect(mine[2].failed.find((f) => f.siteId === 'site-3')?.reason).toContain('maxEpsilonPerRun');
    expect(mine[1].accepted.find((a) => a.siteId === 'site-3')!.ledger).toEqual({ runEpsilon: qOne(2), totalEpsilon: qOne(2) });
  }, 120_000);
});
