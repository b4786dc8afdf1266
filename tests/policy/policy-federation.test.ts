import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import type { SiteEvent } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

describe('site policies in a real federation (socket.io, 20 sites)', () => {
  it('3 sites whose policies refuse the terms say why on both sides; the run completes with the other 17', async () => {
    const events: EngineEvent[] = [];
    const siteEvents: Array<{ siteId: string; event: SiteEvent }> = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 20,
      rounds: 2,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { minSites: 17, federatedEvaluation: 'never' },
      policies: {
        'site-3': { privacy: { require: 'record' } },
        'site-7': { training: { maxRounds: 1 } },
        'site-12': { aggregation: { requireSecureAggregation: true } },
        // Policies the run satisfies: these sites join.
        'site-1': { training: { maxRounds: 2, maxEpochs: 1 }, model: { architectures: ['mlp'] } },
        'site-2': { training: { maxExamplesPerRound: 10 } },
      },
      onEvent: (e) => events.push(e),
      onSiteEvent: (siteId, event) => siteEvents.push({ siteId, event }),
    });
    try {
      const report = await coordinator.done;
      const outcomes = await Promise.all(siteRuns);
      expect(report.status, report.aborted).toBe('complete');
      expect(report.rounds).toHaveLength(2);
      const refusers = ['site-12', 'site-3', 'site-7'];
      const why: Record<string, RegExp> = {
        'site-3': /requires record-level DP/,
        'site-7': /asks for 2 rounds, more than the policy's maxRounds 1/,
        'site-12': /requires secure aggregation/,
      };
      // Coordinator side: an event, and the run report, name each refusal with its reason.
      const refused = events.filter((e): e is Extract<EngineEvent, { type: 'site-refused' }> => e.type === 'site-refused');
      expect(refused.map((e) => e.siteId).sort()).toEqual(refusers);
      for (const e of refused) expect(e.reason).toMatch(why[e.siteId]);
      expect(report.termsRefusals?.total).toBe(3);
      expect(report.termsRefusals?.sites.map((s) => s.siteId).sort()).toEqual(refusers);
      expect(report.terms?.coordinator).toBe(coordinator.coordinatorKey);
      // Site side: each refuser saw its own reason and left without training.
      for (const id of refusers) {
        const own = siteEvents.filter((s) => s.siteId === id && s.event.type === 'refused-terms');
        expect(own).toHaveLength(1);
        expect((own[0].event as { reason: string }).reason).toMatch(why[id]);
        const outcome = outcomes.find((o) => o.siteId === id)!;
        expect(outcome).toMatchObject({ completed: false, roundsTrained: 0 });
      }
      // Never joined: never selected, never counted.
      expect(events.filter((e) => e.type === 'site-joined' && refusers.includes(e.siteId))).toHaveLength(0);
      for (const r of report.rounds) {
        expect(r.accepted.map((a) => a.siteId).filter((id) => refusers.includes(id))).toEqual([]);
        expect(r.accepted).toHaveLength(17);
      }
      // The others completed both rounds; site-2 trained on at most its policy's 10 examples per round.
      for (const o of outcomes.filter((o) => !refusers.includes(o.siteId))) expect(o).toMatchObject({ completed: true, roundsTrained: 2 });
      const site2 = siteEvents.filter((s) => s.siteId === 'site-2' && s.event.type === 'fit-done').map((s) => (s.event as { numExamples: number }).numExamples);
      expect(site2).toHaveLength(2);
      for (const n of site2) expect(n).toBe(10);
      const site1 = siteEvents.filter((s) => s.siteId === 'site-1' && s.event.type === 'fit-done').map((s) => (s.event as { numExamples: number }).numExamples);
      for (const n of site1) expect(n).toBeGreaterThan(10);
    } finally {
      await coordinator.close();
    }
  }, 240_000);
});
