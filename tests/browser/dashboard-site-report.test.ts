import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, LiveEvents, type CoordinatorApp } from '@fedtune/coordinator';
import { summarizeSiteReports, type RunReport, type SiteReportEntry } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// The dashboard in real Chromium shows the per-site report of a finished run: every site × model, clean and
// PGD, and the worst site per model (issue 13).

const mode = browserTestModeWithNotice('tests/browser/dashboard-site-report.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

const arm = (accuracy: number, pgd: number) => ({ accuracy, loss: 0.5, robust: { noiseMean: 0.5, corruptionMean: 0.5, pgd: [{ eps: 0.1, accuracy: pgd }] } });
const sites: SiteReportEntry[] = [
  { siteId: 'site-1', numExamples: 50, durationMs: 1, arms: { pretrained: arm(0.5, 0.1), localOnly: arm(0.8, 0.2), global: arm(0.7, 0.3), personalized: arm(0.85, 0.35) }, adopted: true },
  { siteId: 'site-<b>', numExamples: 40, durationMs: 1, arms: { pretrained: arm(0.4, 0.05), localOnly: arm(0.9, 0.1), global: arm(0.6, 0.25), personalized: arm(0.91, 0.3) }, adopted: true },
];

describe.runIf(mode === 'run')('dashboard: per-site report (Chromium)', () => {
  let c: CoordinatorApp;
  let url: string;
  let browser: Browser;
  const events = new LiveEvents();

  beforeAll(async () => {
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, events, live: () => ({ runId: 'r-sites', phase: 'complete', sites: [] }) });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await c.app.close();
  });

  it('shows no per-site card before the run ends, then every site, both numbers and the worst site per model', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('#rounds');
    expect(await page.$eval('#site-report-card', (e) => (e as HTMLElement).hidden)).toBe(true);
    const report = {
      schemaVersion: 1, runId: 'r-sites', status: 'complete', startedAt: '', updatedAt: '', config: {}, backend: 'wasm', model: { architecture: 'mlp', parameters: 1 }, rounds: [],
      siteReport: { round: 1, mode: 'ditto', localOnlyEpochs: 1, robustness: true, sites, missing: [{ siteId: 'site-3', reason: 'disconnected' }], ...summarizeSiteReports(sites) },
    } as unknown as RunReport;
    events.publish({ type: 'complete', report });
    await page.waitForSelector('#site-report-card:not([hidden])');
    const table = await page.$$eval('#site-report tr', (rows) => rows.map((r) => [...r.querySelectorAll('th,td')].map((x) => x.textContent)));
    expect(table[0]).toEqual(['site', 'pretrained', 'local-only', 'global', 'personalised']);
    expect(table[1]).toEqual(['site-1', '50.0% / PGD 10.0%', '80.0% / PGD 20.0%', '70.0% / PGD 30.0%', '85.0% / PGD 35.0%']);
    // A hostile-looking site id is text, never markup.
    expect(table[2][0]).toBe('site-<b>');
    expect(table[3]).toEqual(['worst site', 'site-<b> 40.0% · PGD site-<b> 5.0%', 'site-1 80.0% · PGD site-<b> 10.0%', 'site-<b> 60.0% · PGD site-<b> 25.0%', 'site-1 85.0% · PGD site-<b> 30.0%']);
    expect(await page.$eval('#site-report-note', (e) => e.textContent)).toContain('missing: site-3');
    expect(await page.$eval('#site-report-note', (e) => e.textContent)).toContain('clean / PGD at the largest ε');
    expect(await page.$$eval('#site-report b', (b) => b.length)).toBe(0);
  });

  it('reads robust accuracy at the report\'s robustEps (the task\'s headline ε) when the sites measured it there', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('#rounds');
    const two = (accuracy: number, at006: number, at01: number) => ({ accuracy, loss: 0.5, robust: { noiseMean: 0.5, corruptionMean: 0.5, pgd: [{ eps: 0.06, accuracy: at006 }, { eps: 0.1, accuracy: at01 }] } });
    const headlineSites: SiteReportEntry[] = [
      { siteId: 'site-1', numExamples: 50, durationMs: 1, arms: { global: two(0.7, 0.45, 0.05) } },
      { siteId: 'site-2', numExamples: 50, durationMs: 1, arms: { global: two(0.6, 0.55, 0.01) } },
    ];
    const report = {
      schemaVersion: 1, runId: 'r-sites', status: 'complete', startedAt: '', updatedAt: '', config: {}, backend: 'wasm', model: { architecture: 'mlp', parameters: 1 }, rounds: [],
      siteReport: { round: 1, mode: 'none', robustness: true, sites: headlineSites, missing: [], robustEps: 0.06, ...summarizeSiteReports(headlineSites, 0.06) },
    } as unknown as RunReport;
    events.publish({ type: 'complete', report });
    await page.waitForSelector('#site-report-card:not([hidden])');
    const table = await page.$$eval('#site-report tr', (rows) => rows.map((r) => [...r.querySelectorAll('th,td')].map((x) => x.textContent)));
    expect(table.slice(1)).toEqual([
      ['site-1', '70.0% / PGD 45.0%'],
      ['site-2', '60.0% / PGD 55.0%'],
      ['worst site', 'site-2 60.0% · PGD site-1 45.0%'],
    ]);
    expect(await page.$eval('#site-report-note', (e) => e.textContent)).toContain('clean / PGD at ε=0.06');
  });
});
