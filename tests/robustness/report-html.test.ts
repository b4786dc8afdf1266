import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { evaluateRobustness, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { renderReportHtml, type ReportWithRobustness } from '../../coordinator/src/report/report-html.ts';

let robustness: RobustnessReport;

beforeAll(async () => {
  await selectNodeBackend();
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  robustness = await evaluateRobustness(model, builtinDigits().holdout, { examples: 60, adversarialExamples: 30, corruptions: ['rotate', 'fog', 'stripe'], pgdSteps: 3 });
  model.dispose();
});

function runReport(withRobustness: boolean): ReportWithRobustness {
  const round = (n: number) => ({
    round: n,
    durationMs: 1000,
    attempts: 1,
    selected: ['site-1', 'site-2'],
    accepted: [],
    rejected: [],
    failed: [],
    bytesDown: 1,
    bytesUp: 1,
    global: { accuracy: 0.6 + 0.05 * n, loss: 1 - 0.1 * n },
    federated: {
      sites: [
        { siteId: 'site-2', accuracy: 0.5 + 0.05 * n, loss: 1, numExamples: 100 },
        { siteId: 'site-1', accuracy: 0.7, loss: 1, numExamples: 100 },
      ],
      accuracy: 0.6,
      worstSite: { siteId: 'site-2', accuracy: 0.5 + 0.05 * n },
    },
    modelDir: `models/round-${n}`,
    ...(withRobustness ? { robustness } : {}),
  });
  return {
    schemaVersion: 1,
    runId: 'run-<test>',
    status: 'complete',
    startedAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:01:00Z',
    config: {},
    backend: 'wasm',
    model: { architecture: 'mlp', parameters: 101770 },
    pretrained: { accuracy: 0.55, loss: 1.2 },
    rounds: [round(1), round(2), round(3)],
    ...(withRobustness ? { finalRobustness: robustness } : {}),
  };
}

describe('report.html', () => {
  it('is one self-contained page with every plot', () => {
    const html = renderReportHtml(runReport(true));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // no scripts, no external assets
    expect(html).not.toMatch(/<script|<link|src=|href=|url\(|https?:/i);
    for (const title of ['accuracy per round', 'loss per round', 'robust accuracy against ε', 'accuracy per corruption', 'per-site accuracy, round 3', 'confusion matrix', 'reliability diagram']) {
      expect(html).toContain(`aria-label="${title}"`);
    }
    expect(html).toContain('run-&lt;test&gt;');
    expect((html.match(/<svg /g) ?? []).length).toBe(7);
  });

  it('without robustness sections shows accuracy and loss per round and per site only', () => {
    const html = renderReportHtml(runReport(false));
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
    expect(html).not.toContain('reliability diagram');
  });
});

describe('report.html: the headline ε', () => {
  it('is the first robustness row, with its units, when the report has one; absent otherwise', () => {
    const pgd = [{ eps: 0.06, epsAbsolute: 0.06, steps: 40, stepSize: 0.01, accuracy: 0.42 }, { eps: 0.1, epsAbsolute: 0.1, steps: 40, stepSize: 0.01, accuracy: 0.2 }];
    const withHeadline = { ...runReport(true), finalRobustness: { ...robustness, pgd, headlineEps: 0.06, epsUnits: 'absolute' as const, epsScale: 1 } };
    const html = renderReportHtml(withHeadline);
    expect(html).toContain('<tr><th>headline: PGD at ε = 0.06</th><td>42.0% (ε in absolute units)</td></tr>');
    expect(html.indexOf('headline: PGD')).toBeLessThan(html.indexOf('evaluated examples'));
    expect(renderReportHtml(runReport(true))).not.toContain('headline: ');
  });
});

describe('report.html: the attack losses', () => {
  it.each([
    { attackLosses: ['ce', 'margin'] as const, shown: 'each attack the worst case over the ce and margin losses' },
    { attackLosses: ['ce'] as const, shown: 'each attack on the ce loss' },
    { attackLosses: undefined, shown: undefined },
  ])('attackLosses $attackLosses: the evaluated-examples row says $shown', ({ attackLosses, shown }) => {
    const { attackLosses: _fixture, ...rest } = robustness;
    const report = { ...runReport(true), finalRobustness: { ...rest, ...(attackLosses ? { attackLosses: [...attackLosses] } : {}) } };
    const row = renderReportHtml(report).match(/<tr><th>evaluated examples<\/th><td>([^<]*)<\/td><\/tr>/)![1];
    if (shown) expect(row).toContain(shown);
    else expect(row).not.toContain('loss');
  });
});
