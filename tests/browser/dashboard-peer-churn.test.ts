import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, LiveEvents, type CoordinatorApp, type LiveStatus } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// Audit: with site tokens off, peers joining under fresh names (hello, accept the terms, disconnect) froze the
// operator's dashboard: every name stayed in the page's site list, every departed site was a row of the sites
// table, and each engine event and each live update redrew the whole page (two redraws per event). The page is
// driven here through the coordinator's own event stream (LiveEvents → /api/events), thousands of joins and
// departures, in real Chromium. Redraws are counted (body[data-renders]), not timed. The snapshot replays only the
// peers' latest events (REPLAYED_PEER_EVENTS): the counts below come from the coordinator's SiteTally.

const mode = browserTestModeWithNotice('tests/browser/dashboard-peer-churn.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

/** Rows the dashboard lists at most: the sites there, the latest departed ones, one "and N more" row. */
const MAX_DEPARTED_ROWS = 50;

describe.runIf(mode === 'run')('dashboard under peer churn (Chromium)', () => {
  const events = new LiveEvents();
  const honest = ['site-a', 'site-b', 'site-c'].map((siteId) => ({ siteId, backend: 'cpu', runtime: 'node', lastSeen: new Date().toISOString() }));
  const live: LiveStatus = { runId: 'churn', phase: 'waiting', sites: honest };
  let c: CoordinatorApp;
  let url: string;
  let browser: Browser;

  const churn = (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const siteId = `evil-${i}`;
      events.publish({ type: 'site-joined', siteId, backend: 'cpu', runtime: 'node', numExamples: 40 });
      events.publish({ type: 'site-left', siteId, reason: 'disconnected' });
    }
  };
  const rows = (page: Page) =>
    page.$$eval('#sites tbody tr', (trs) => trs.map((tr) => ({ site: (tr as HTMLElement).dataset.site ?? '', more: (tr as HTMLElement).dataset.more, status: tr.querySelectorAll('td')[4]?.textContent ?? '' })));
  const renders = async (page: Page) => Number(await page.$eval('body', (b) => b.dataset.renders));

  beforeAll(async () => {
    for (const s of honest) events.publish({ type: 'site-joined', siteId: s.siteId, backend: 'cpu', runtime: 'node', numExamples: 40 });
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, events, live: () => live });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.close();
  });

  it('lists the sites there and the latest departed ones, counts the rest, and redraws once per burst', async () => {
    churn(0, 3000); // before the page opens: the snapshot replays them
    const page = await browser.newPage();
    try {
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('site-counts')?.textContent?.includes('3003 joined'), undefined, { timeout: 60_000 });
      expect(await page.$eval('#site-counts', (e) => e.textContent)).toBe('· 3 connected, 3003 joined, 3000 left');
      let shown = await rows(page);
      expect(shown).toHaveLength(3 + MAX_DEPARTED_ROWS + 1);
      expect(shown.slice(0, 3).map((r) => [r.site, r.status])).toEqual(honest.map((s) => [s.siteId, 'connected']));
      // The latest to leave first, then one row for the others.
      expect(shown.slice(3, 3 + MAX_DEPARTED_ROWS).map((r) => r.site)).toEqual(Array.from({ length: MAX_DEPARTED_ROWS }, (_, k) => `evil-${2999 - k}`));
      expect(shown[3].status).toBe('left (disconnected)');
      expect(shown.at(-1)!.more).toBe(String(3000 - MAX_DEPARTED_ROWS));

      // Live: 2000 more names join and leave in one burst (4000 engine events, 4000 live updates).
      const before = await renders(page);
      churn(3000, 2000);
      await page.waitForFunction(() => document.getElementById('site-counts')?.textContent?.includes('5003 joined'), undefined, { timeout: 60_000 });
      const drawn = (await renders(page)) - before;
      expect(drawn).toBeGreaterThanOrEqual(1);
      // One redraw per message was 8000; coalesced, a handful (at most one per 250 ms of delivery).
      expect(drawn).toBeLessThanOrEqual(40);
      shown = await rows(page);
      expect(shown).toHaveLength(3 + MAX_DEPARTED_ROWS + 1);
      expect(shown[3].site).toBe('evil-4999');
      expect(shown.at(-1)!.more).toBe(String(5000 - MAX_DEPARTED_ROWS));

      // A departed name that comes back (one still remembered) is listed as connected again and no longer counted as left.
      live.sites = [...honest, { siteId: 'evil-4990', backend: 'cpu', runtime: 'node', lastSeen: new Date().toISOString() }];
      events.publish({ type: 'site-joined', siteId: 'evil-4990', backend: 'cpu', runtime: 'node', numExamples: 40 });
      await page.waitForFunction(() => document.getElementById('site-counts')?.textContent === '· 4 connected, 5003 joined, 4999 left', undefined, { timeout: 30_000 });
      shown = await rows(page);
      expect(shown.slice(0, 4).map((r) => [r.site, r.status])).toEqual([...honest.map((s) => s.siteId), 'evil-4990'].map((s) => [s, 'connected']));
      expect(shown).toHaveLength(4 + MAX_DEPARTED_ROWS + 1);
    } finally {
      await page.close();
    }
  }, 180_000);
});
