import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, LiveEvents, type CoordinatorApp } from '@fedtune/coordinator';
import type { RunReport } from '@fedtune/shared';
import { REPORT_HTML_CSP } from '../../coordinator/src/http/report-html-route.ts';
import { DASHBOARD_CSP } from '../../coordinator/src/http/security-headers.ts';
import { tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';
import { recordViolations, violations } from './csp-violations.ts';

// The dashboard under its Content-Security-Policy in real Chromium: its own code breaks none of it (no
// violation reported while it loads, streams and draws a run with rounds). And audit: with an admin token the
// dashboard opens report.html as a blob: URL, which has no response headers, so the report's CSP was lost; the
// blob now carries it as a <meta http-equiv>, first in its head, and the browser enforces it.

const mode = browserTestModeWithNotice('tests/browser/dashboard-csp.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

const round = (n: number): RunReport['rounds'][number] => ({
  round: n, durationMs: 1000, attempts: 1, selected: ['site-1'], accepted: [{ siteId: 'site-1', numExamples: 40, loss: 1 / n, accuracy: 0.5 + 0.1 * n, durationMs: 5 }],
  rejected: [], failed: [], bytesDown: 1, bytesUp: 1, global: { accuracy: 0.5 + 0.1 * n, loss: 1 / n }, modelDir: `models/round-${n}`,
});
const report = {
  schemaVersion: 1, runId: 'r-1', status: 'complete', startedAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:01:00Z', config: {}, backend: 'wasm',
  model: { architecture: 'mlp', parameters: 10 }, pretrained: { accuracy: 0.5, loss: 1.4 }, rounds: [round(1), round(2)],
} as unknown as RunReport;


describe.runIf(mode === 'run')('dashboard CSP (Chromium)', () => {
  let c: CoordinatorApp;
  let url: string;
  let browser: Browser;
  const events = new LiveEvents();

  beforeAll(async () => {
    const runsDir = tempDir();
    mkdirSync(join(runsDir, 'r-1'));
    writeFileSync(join(runsDir, 'r-1', 'report.json'), JSON.stringify(report));
    events.publish({ type: 'pretrained', accuracy: 0.5, loss: 1.4 });
    for (const r of report.rounds) events.publish({ type: 'round-end', record: r });
    events.publish({ type: 'site-joined', siteId: 'site-1', backend: 'cpu', runtime: 'node', numExamples: 40 });
    c = buildApp({ runsDir, maxMessageBytes: 1 << 20, events, live: () => ({ runId: 'r-1', phase: 'training', round: 2, sites: [] }) });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.close();
  });

  it('the dashboard loads, streams and draws its charts under its CSP with no violation', async () => {
    const page = await browser.newPage();
    try {
      await recordViolations(page);
      const res = await page.goto(url);
      expect(res!.headers()['content-security-policy']).toBe(DASHBOARD_CSP);
      await page.waitForSelector('body[data-connected="true"][data-rounds="2"]', { timeout: 30_000 });
      await page.waitForSelector('#chart-accuracy svg polyline', { timeout: 30_000 });
      await page.waitForSelector('#runs li[data-run="r-1"]', { timeout: 30_000 });
      // A click redraws (a round's details) — still nothing blocked.
      await page.click('#rounds tbody tr[data-round="1"]');
      await page.waitForSelector('#round-details:not([hidden])');
      expect(await violations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('report.html opened with the admin token (a blob:) carries the report CSP as a meta, enforced', async () => {
    const page = await browser.newPage();
    try {
      // A token in this tab: the report links are fetched with it and opened as blobs (this coordinator needs none).
      await page.addInitScript(() => sessionStorage.setItem('fedtune.adminToken', 'any-token'));
      await page.goto(url);
      await page.waitForSelector('#links a', { timeout: 30_000 });
      const [popup] = await Promise.all([page.context().waitForEvent('page'), page.click('#links a:text-is("report.html")')]);
      await popup.waitForLoadState('domcontentloaded');
      expect(popup.url()).toMatch(/^blob:/);
      expect(await popup.textContent('h1')).toBe('fedtune run r-1');
      const first = await popup.evaluate(() => {
        const meta = document.head.firstElementChild as HTMLMetaElement;
        return { tag: meta.tagName, equiv: meta.httpEquiv, content: meta.content, count: document.querySelectorAll('meta[http-equiv]').length };
      });
      const expected = REPORT_HTML_CSP.split('; ').filter((d) => !d.startsWith('frame-ancestors')).join('; ');
      expect(first).toEqual({ tag: 'META', equiv: 'Content-Security-Policy', content: expected, count: 1 });
      // Enforced: the page may fetch nothing (default-src 'none'), not even its own coordinator.
      expect(await popup.evaluate((origin) => fetch(`${origin}/api/health`).then(() => 'loaded', () => 'blocked'), url)).toBe('blocked');
      await popup.close();
      // report.json (not HTML) is opened unchanged.
      const [json] = await Promise.all([page.context().waitForEvent('page'), page.click('#links a:text-is("report.json")')]);
      await json.waitForLoadState('domcontentloaded');
      expect(JSON.parse((await json.textContent('body'))!)).toMatchObject({ runId: 'r-1' });
      await json.close();
    } finally {
      await page.close();
    }
  }, 60_000);
});
