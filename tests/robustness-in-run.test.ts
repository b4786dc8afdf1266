import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunReport } from '@fedtune/shared';
import { startTestFederation } from './helpers/federation.ts';

describe('robustness evaluation inside a run', () => {
  it('scheduled every 2 rounds: rounds 2 and 3 (final) carry a robustness section, report.html plots it', async () => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 3,
      transport: 'memory',
      maxSiteExamples: 100,
      config: { federatedEvaluation: 'final', robustness: { when: 2, examples: 120, adversarialExamples: 40, pgdSteps: 5, corruptions: ['rotate', 'shot_noise'] } },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.rounds.map((r) => Boolean(r.robustness))).toEqual([false, true, true]);
    const final = report.rounds[2].robustness!;
    expect(report.finalRobustness).toEqual(final);
    expect(final.examples).toBe(120);
    expect(final.fgsm.map((a) => a.eps)).toEqual([0.05, 0.1, 0.2, 0.3]);
    expect(final.pgd[0].steps).toBe(5);
    expect(final.corruptions.map((c) => c.name).sort()).toEqual(['rotate', 'shot_noise']);
    expect(final.clean.accuracy).toBeGreaterThan(0.3);
    // the report on disk validates against the versioned schema
    const onDisk = JSON.parse(readFileSync(join(coordinator.runDir, 'report.json'), 'utf8'));
    expect(RunReport.safeParse(onDisk).success).toBe(true);
    const html = join(coordinator.runDir, 'report.html');
    expect(existsSync(html)).toBe(true);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
  });

  it.each([
    { attackLosses: undefined, reported: ['ce', 'margin'] },
    { attackLosses: ['ce'] as const, reported: ['ce'] },
  ])('robustness.attackLosses $attackLosses reaches the coordinator\'s evaluation (in its worker): the report names $reported', async ({ attackLosses, reported }) => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 60,
      config: { federatedEvaluation: 'never', robustness: { when: 'final', examples: 40, adversarialExamples: 20, pgdSteps: 3, noise: false, corruptions: false, pgd: [0.1], fgsm: [0.1], ...(attackLosses ? { attackLosses: [...attackLosses] } : {}) } },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.finalRobustness!.attackLosses).toEqual(reported);
    expect(report.finalRobustness!.pgd[0].byLoss?.map((s) => s.loss)).toEqual(reported.length > 1 ? reported : undefined);
  });

  it('robustness.square, squareQueries and squarePInit reach the coordinator\'s evaluation (in its worker): the final report has the black-box rows', async () => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 60,
      config: { federatedEvaluation: 'never', robustness: { when: 'final', examples: 40, adversarialExamples: 20, pgdSteps: 3, noise: false, corruptions: false, fgsm: false, pgd: [0.1], square: [0.1], squareQueries: 6, squarePInit: 0.4 } },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.finalRobustness!.square).toEqual([expect.objectContaining({ eps: 0.1, queries: 6, pInit: 0.4 })]);
    expect(report.finalRobustness!.square![0]!.meanQueries).toBeLessThanOrEqual(6);
    // report.html: a row in the robustness table and a series in the accuracy-against-ε chart.
    const page = readFileSync(join(coordinator.runDir, 'report.html'), 'utf8');
    expect(page).toContain('Square, black-box (≤ 6 queries)');
    expect(page).toContain('Square (black-box)');
    // PGD and Square at the same ε: the per-example worst case over both, at most either row, in the report and the page.
    const worst = report.finalRobustness!.worstCase!;
    expect(worst.map((w) => [w.eps, w.attacks])).toEqual([[0.1, ['pgd', 'square']]]);
    expect(worst[0]!.accuracy).toBeLessThanOrEqual(Math.min(report.finalRobustness!.pgd[0]!.accuracy, report.finalRobustness!.square![0]!.accuracy));
    expect(page).toContain('worst case per example (robust to every attack at its ε)');
    expect(page).toContain('ε=0.1 (PGD + Square): ');
    expect(page).toContain('data-series="worst case per example"');
  });
});
