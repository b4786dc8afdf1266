import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { REPORT_SCHEMA_VERSION, type RunReport } from '@fedtune/shared';
import { renderReportHtml } from '../../coordinator/src/report/report-html.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// report.html's charts in real Chromium: full-width at any window width (not a fixed 560 px), and what the
// accuracy line draws matches the report (one point per round, higher accuracy drawn higher, the extremes at
// the ends of the drawn range).

const mode = browserTestModeWithNotice('tests/browser/report-html-responsive.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

const accuracies = [0.63, 0.71, 0.68, 0.8];
const round = (r: number, accuracy: number) => ({ round: r, durationMs: 1000, attempts: 1, selected: ['a', 'b'], accepted: [], rejected: [], failed: [], bytesDown: 0, bytesUp: 0, global: { accuracy, loss: 1 - accuracy }, modelDir: `models/round-${r}` });
const report: RunReport = {
  schemaVersion: REPORT_SCHEMA_VERSION,
  runId: 'responsive',
  status: 'complete',
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:01:00.000Z',
  config: {},
  backend: 'wasm',
  model: { architecture: 'mlp', parameters: 10 },
  rounds: accuracies.map((a, i) => round(i + 1, a)),
  dataSummaries: { total: { sites: 1, examples: 40, duplicatesDropped: 2, missingImputed: 0, constantFeatures: 0, labelCounts: [20, 20] }, sites: [{ siteId: 'a', examples: 40, duplicatesDropped: 2, missingImputed: 0, constantFeatures: 0, labelCounts: [20, 20] }] },
};

describe.runIf(mode === 'run')('report.html charts in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each([800, 1400])('at a %i px window the charts fill the page width and the accuracy line matches the data', async (width) => {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    try {
      await page.setContent(renderReportHtml(report));
      const charts = await page.$$eval('svg.report-chart', (svgs) => svgs.map((s) => ({ width: s.getBoundingClientRect().width, parent: s.parentElement!.getBoundingClientRect().width })));
      expect(charts.length).toBeGreaterThan(0);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(560);
        expect(Math.abs(c.width - c.parent)).toBeLessThan(1);
      }
      // The accuracy chart's clean line: one point per round; screen y falls as accuracy rises.
      const ys = await page.$eval('svg.report-chart polyline[data-series="clean"]', (element) => {
        const line = element as unknown as SVGPolylineElement;
        const svg = line.ownerSVGElement!;
        const ctm = line.getScreenCTM()!;
        return Array.from(line.points, (p) => {
          const q = svg.createSVGPoint();
          q.x = p.x;
          q.y = p.y;
          return q.matrixTransform(ctm).y;
        });
      });
      expect(ys).toHaveLength(accuracies.length);
      const byAccuracy = [...accuracies.keys()].sort((a, b) => accuracies[a]! - accuracies[b]!);
      const byHeight = [...ys.keys()].sort((a, b) => ys[b]! - ys[a]!);
      expect(byHeight).toEqual(byAccuracy);
      expect(await page.locator('#data-summaries').isVisible()).toBe(true);
    } finally {
      await page.close();
    }
  });
});
