import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataSummaryCounts, type RunReport } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// The dashboard's data-summary card in real Chromium after a real run over socket.io (20 sites, the 10 even ones
// sharing their data check's counts, as --share-data-summary does): the card shows exactly the counts report.json
// has (totals and one row per sharing site), and its screenshot has one line of text per row of that data.

const mode = browserTestModeWithNotice('tests/browser/dashboard-data-summary.test.ts');
const ARTIFACTS = join(process.cwd(), 'artifacts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

const indexOf = (siteId: string) => Number(siteId.split('-')[1]);
const summaryOf = (k: number) => dataSummaryCounts({ examples: 30 + k, labelCounts: [10, 20 + k], duplicatesDropped: k, missingImputed: 2 * k, constantFeatures: k % 3 });

/**
 * The bands of text in a screenshot: runs of pixel rows holding a dark pixel (text), separated by rows with none
 * (the card's row borders are light grey, above the threshold). Returns the [top, bottom] of each band.
 */
function textBands(path: string, dark = 110): Array<[number, number]> {
  const png = PNG.sync.read(readFileSync(path));
  const bands: Array<[number, number]> = [];
  let start = -1;
  for (let y = 0; y < png.height; y++) {
    let hasText = false;
    for (let x = 0; x < png.width && !hasText; x++) {
      const i = 4 * (y * png.width + x);
      hasText = (png.data[i] + png.data[i + 1] + png.data[i + 2]) / 3 < dark;
    }
    if (hasText && start < 0) start = y;
    if (!hasText && start >= 0) {
      bands.push([start, y - 1]);
      start = -1;
    }
  }
  if (start >= 0) bands.push([start, png.height - 1]);
  return bands;
}

describe.runIf(mode === 'run')('dashboard data-summary card (Chromium, 20 sites over socket.io)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the counts report.json has, per site and in total; the screenshot has one text line per row', async () => {
    const sharing = (siteId: string) => indexOf(siteId) % 2 === 0;
    const fed = await startTestFederation({
      sites: 20,
      rounds: 1,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      siteOptions: (siteId) => (sharing(siteId) ? { dataSummary: summaryOf(indexOf(siteId)) } : {}),
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      const report: RunReport = await fed.coordinator.done;
      await Promise.all(fed.siteRuns);
      expect(report.status).toBe('complete');
      const d = report.dataSummaries!;
      expect(d.total.sites).toBe(10);
      // Opened after the run: the page rebuilds the card from the run's event history.
      await page.goto(fed.coordinator.url!);
      await page.waitForSelector('body[data-final="true"]', { timeout: 30_000 });
      await page.waitForSelector('#data-summary-card:not([hidden])', { timeout: 30_000 });

      const labels = (counts: number[]) => counts.map((n, i) => `${i}:${n}`).join(' ');
      const cells = (name: string, s: { examples: number; duplicatesDropped: number; missingImputed: number; constantFeatures: number; labelCounts: number[] }) => [
        name,
        String(s.examples),
        String(s.duplicatesDropped),
        String(s.missingImputed),
        String(s.constantFeatures),
        labels(s.labelCounts),
      ];
      const shown = await page.$$eval('#data-summary tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(shown[0]).toEqual(cells(`all ${d.total.sites}`, d.total));
      expect(shown.slice(1).sort((a, b) => a[0].localeCompare(b[0]))).toEqual(d.sites.map((s) => cells(s.siteId, s)).sort((a, b) => a[0].localeCompare(b[0])));
      expect(shown).toHaveLength(1 + 10);
      expect(await page.$eval('#data-summary-note', (e) => e.textContent)).toBe(
        `(${d.total.sites} site(s): ${d.total.examples} examples, ${d.total.duplicatesDropped} duplicates dropped, ${d.total.missingImputed} missing values imputed)`,
      );
      // The totals are what the sites sent: 10 sharing sites, the odd ones absent.
      expect(d.total.examples).toBe([2, 4, 6, 8, 10, 12, 14, 16, 18, 20].reduce((a, k) => a + 30 + k, 0));
      expect(shown.some((row) => row[0] === 'site-3')).toBe(false);

      // The screenshot of the card against the data: a heading line, the header row, then one line per row of
      // report.json's summaries (totals + 10 sites), evenly spaced as a table's rows are.
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, 'dashboard-data-summary.png');
      await page.locator('#data-summary-card').screenshot({ path });
      const bands = textBands(path);
      expect(bands).toHaveLength(2 + 1 + d.sites.length);
      const rowTops = bands.slice(2).map(([top]) => top);
      const gaps = rowTops.slice(1).map((t, i) => t - rowTops[i]);
      for (const gap of gaps) expect(Math.abs(gap - gaps[0])).toBeLessThanOrEqual(2);
      // Each table row's box on the page contains exactly one of those text lines.
      const rowBoxes = await page.$$eval('#data-summary tbody tr', (trs) => {
        const card = document.getElementById('data-summary-card')!.getBoundingClientRect();
        return trs.map((tr) => tr.getBoundingClientRect()).map((r) => ({ top: r.top - card.top, bottom: r.bottom - card.top }));
      });
      rowBoxes.forEach((box, i) => {
        const [top, bottom] = bands[2 + i];
        expect(top).toBeGreaterThanOrEqual(box.top - 1);
        expect(bottom).toBeLessThanOrEqual(box.bottom + 1);
      });
    } finally {
      await page.close();
      await fed.coordinator.close();
    }
  }, 240_000);
});
