import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClientConnector, ClientToServer } from '@fedtune/shared';
import { startTestFederation, tempDir } from '../helpers/federation.ts';
import { rewritingSends } from '../helpers/rewriting-sends.ts';

/**
 * The per-site report reads every site's robust accuracy at the task's headline ε (siteReport.robustEps), which the
 * coordinator adds to the ε list it asks the sites for. One site (site-3) sends its report with the headline ε left
 * out of its PGD rows and a single row at ε = 1, accuracy 0. It used to turn the headline off for everyone (robustEps
 * absent: each arm read at its largest ε) and, being 0 there, became the worst robust site. Now the ε stays the
 * headline the sites were asked for, the worst robust site is the honest sites' own, and site-3 is listed as left out.
 */
type Report = ClientToServer['siteReportResult'];

function droppingHeadline(connector: ClientConnector): ClientConnector {
  return rewritingSends(connector, (event, payload) => {
    if (event !== 'siteReportResult') return payload;
    const r = payload as Report;
    const arms = Object.fromEntries(Object.entries(r.arms).map(([k, arm]) => [k, arm && { ...arm, ...(arm.robust ? { robust: { ...arm.robust, pgd: [{ eps: 1, accuracy: 0 }] } } : {}) }]));
    return { ...r, arms };
  });
}

async function siteReportOf(hostile: boolean) {
  const runsDir = tempDir('site-report-headline-');
  const fed = await startTestFederation({
    sites: 3,
    rounds: 1,
    transport: 'socket',
    runsDir,
    maxSiteExamples: 40,
    holdoutExamples: 100,
    config: {
      federatedEvaluation: 'never',
      robustness: { when: 'never', headlineEps: 0.06 },
      siteRobustness: { when: 'final', examples: 20, adversarialExamples: 10, pgdSteps: 2, noiseSigmas: [0.1], pgdEps: [0.05], corruptions: false },
    },
    wrapConnector: (siteId, connector) => (hostile && siteId === 'site-3' ? droppingHeadline(connector) : connector),
  });
  try {
    const report = await fed.coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    const html = readFileSync(join(runsDir, report.runId, 'report.html'), 'utf8');
    return { section: report.siteReport!, html };
  } finally {
    await fed.coordinator.close();
    await Promise.allSettled(fed.siteRuns);
  }
}

const atHeadline = (pgd: Array<{ eps: number; accuracy: number }> | undefined) => pgd?.find((p) => Math.abs(p.eps - 0.06) < 1e-9)?.accuracy;

describe("per-site report: one site leaves the headline ε out of its PGD rows", () => {
  it('honest sites: robust accuracy at the headline ε, nobody left out', async () => {
    const { section } = await siteReportOf(false);
    expect(section.robustEps).toBe(0.06);
    expect(section.sites.map((s) => s.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
    const lowest = Math.min(...section.sites.map((s) => atHeadline(s.arms.global.robust?.pgd)!));
    expect(section.worst.global.robust?.accuracy).toBe(lowest);
    expect(section.worst.global).not.toHaveProperty('robustMissing');
  }, 180_000);

  it("hostile site-3: the headline ε stays, the worst robust site is the honest sites' own, site-3 is listed as left out", async () => {
    const { section, html } = await siteReportOf(true);
    expect(section.robustEps).toBe(0.06);
    const honest = section.sites.filter((s) => s.siteId !== 'site-3');
    const lowest = Math.min(...honest.map((s) => atHeadline(s.arms.global.robust?.pgd)!));
    expect(section.worst.global.robust).toEqual({ siteId: expect.not.stringMatching('site-3'), accuracy: lowest });
    expect(section.worst.global.robustMissing).toEqual(['site-3']);
    expect(html).toContain('PGD leaves out site-3 (no PGD at ε=0.06)');
  }, 180_000);
});
