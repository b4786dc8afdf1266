import { describe, expect, it } from 'vitest';
import type { SiteEvent } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

describe("a site's adversarial settings that cannot apply to the run refuse the run's terms", () => {
  it('--adv-steps without --adv-eps against a run without adversarial training: refused at the terms, never a per-round failure', async () => {
    const siteEvents: Array<{ siteId: string; event: SiteEvent }> = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 3,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 30,
      holdoutExamples: 60,
      config: { minSites: 2, federatedEvaluation: 'never' },
      siteOptions: (siteId) => (siteId === 'site-3' ? { adversarial: { steps: 3 } } : {}),
      onSiteEvent: (siteId, event) => siteEvents.push({ siteId, event }),
    });
    const report = await coordinator.done;
    const outcomes = await Promise.all(siteRuns);
    const own = siteEvents.filter((s) => s.siteId === 'site-3').map((s) => s.event);
    const refused = own.find((e) => e.type === 'refused-terms');
    expect(refused, JSON.stringify(own)).toMatchObject({ type: 'refused-terms', reason: expect.stringMatching(/adversarial settings need an ε \(--adv-eps\).*no adversarial training/) });
    expect((refused as { round?: number }).round).toBeUndefined();
    expect(own.some((e) => e.type === 'failed' || e.type === 'fit-done')).toBe(false);
    // Not "complete after 1 rounds (0 trained here)" with exit 0: the site did not take part (fedtune client exits 1).
    expect(outcomes.find((o) => o.siteId === 'site-3')).toMatchObject({ completed: false, roundsTrained: 0 });
    expect(report.status).toBe('complete');
    expect(report.termsRefusals?.sites.map((s) => s.siteId)).toEqual(['site-3']);
  });
});
