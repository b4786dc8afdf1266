import { describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { renderReportHtml } from '../../coordinator/src/report/report-html.ts';

/**
 * report.html's "Per-site accuracy" plot draws its dashed line at the federated accuracy weighted by examples
 * (report.json `federated.accuracy`); it was labelled "mean", while report.json's own `federated.mean` is the
 * plain mean of the sites (68.1 % against 70.5 % in a 3-site run).
 */
function report(): RunReport {
  return {
    schemaVersion: 1,
    runId: 'r-weighted',
    status: 'complete',
    startedAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:01:00Z',
    config: {},
    backend: 'wasm',
    model: { architecture: 'mlp', parameters: 10 },
    pretrained: { accuracy: 0.6, loss: 1.2 },
    rounds: [
      {
        round: 1, durationMs: 1, attempts: 1, selected: ['site-1', 'site-2', 'site-3'], accepted: [], rejected: [], failed: [], bytesDown: 1, bytesUp: 1,
        global: { accuracy: 0.65, loss: 1 }, modelDir: 'models/round-1',
        federated: {
          sites: [
            { siteId: 'site-1', accuracy: 0.734, loss: 1, numExamples: 40 },
            { siteId: 'site-2', accuracy: 0.608, loss: 1, numExamples: 100 },
            { siteId: 'site-3', accuracy: 0.772, loss: 1, numExamples: 30 },
          ],
          accuracy: 0.681,
          worstSite: { siteId: 'site-2', accuracy: 0.608 },
          p10: 0.6332,
          mean: 0.7047,
        },
      },
    ],
  } as RunReport;
}

describe('report.html per-site accuracy: the dashed line', () => {
  it('is labelled as the accuracy weighted by examples, never as the mean', () => {
    const section = /<section id="per-site"[\s\S]*?<\/section>|<h2>Per-site accuracy<\/h2>[\s\S]*?<\/section>/.exec(renderReportHtml(report()))![0];
    expect(section).toMatch(/weighted by[\s\S]*examples 68\.1%/);
    expect(section).not.toMatch(/mean 68\.1%/);
  });
});
