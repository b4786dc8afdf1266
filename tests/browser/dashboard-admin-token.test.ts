import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminTokenStore, SiteTokenStore, type RunningCoordinator } from '@fedtune/coordinator';
import type { RunReport } from '@fedtune/shared';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';
import { honestSite } from '../hostile/helpers.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// The dashboard in real Chromium against a coordinator whose control plane needs the admin token:
// - issue 11 follow-up: EventSource cannot send Authorization, so /api/events answered 401 and the live view
//   failed. The dashboard now asks for the token, keeps it in sessionStorage and streams with fetch();
// - issue 12 item 8: when the run ends the view is final (status, sites finished with their last-seen time,
//   nothing ticking "now").

const mode = browserTestModeWithNotice('tests/browser/dashboard-admin-token.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

interface SiteRow {
  site: string;
  connected: string;
  status: string;
  lastSeen: string;
}

const siteRows = (page: Page): Promise<SiteRow[]> =>
  page.$$eval('#sites tbody tr', (rows) =>
    rows.map((r) => ({
      site: (r as HTMLElement).dataset.site ?? '',
      connected: (r as HTMLElement).dataset.connected ?? '',
      status: r.querySelectorAll('td')[4]?.textContent ?? '',
      lastSeen: r.querySelectorAll('td')[5]?.textContent ?? '',
    })),
  );

describe.runIf(mode === 'run')('dashboard with the admin token, and after the run (Chromium)', () => {
  const db = join(tempDir(), 'fedtune.db');
  const sites = new SiteTokenStore(db);
  const siteTokens = { a: sites.add('site-a'), b: sites.add('site-b') };
  let adminToken: string;
  let coordinator: RunningCoordinator;
  let browser: Browser;
  let page: Page;
  let report: RunReport;
  const requested: string[] = [];
  const consoleText: string[] = [];

  beforeAll(async () => {
    const admin = new AdminTokenStore(db);
    const made = admin.create();
    if (!('token' in made)) throw new Error('expected a new admin token');
    adminToken = made.token;
    admin.close();
    coordinator = await startTinyCoordinator({ runId: 'dash-token', minSites: 2, rounds: 2, access: { store: sites }, apiRateLimit: false });
    expect(coordinator.exposure()).toMatchObject({ adminTokenRequired: true });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on('request', (r) => void requested.push(r.url()));
    page.on('console', (m) => void consoleText.push(m.text()));
    await page.goto(`${coordinator.url}/`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await coordinator?.close();
    sites.close();
  });

  it('asks for the admin token instead of failing, then streams the live view with it', async () => {
    await page.waitForSelector('body[data-auth="needed"]', { timeout: 10_000 });
    expect(await page.isVisible('#auth')).toBe(true);
    expect(await page.textContent('#auth-message')).toMatch(/admin token/);
    await page.fill('#auth-token', adminToken);
    await page.click('#auth button[type="submit"]');
    await page.waitForSelector('body[data-connected="true"]', { timeout: 10_000 });
    expect(await page.isVisible('#auth')).toBe(false);
    expect(await page.textContent('[data-testid="run-id"]')).toBe('dash-token');

    const honest = await Promise.all([honestSite(coordinator.url!, 'site-a', { token: siteTokens.a }), honestSite(coordinator.url!, 'site-b', { token: siteTokens.b, seed: 5 })]);
    // While the run goes, the sites are shown connected.
    await page.waitForSelector('#sites tbody tr[data-connected="true"]', { state: 'attached', timeout: 30_000 });
    report = await coordinator.done;
    expect(report.status).toBe('complete');
    for (const s of honest) expect((await s.run).completed).toBe(true);
    await page.waitForSelector('body[data-rounds="2"]', { timeout: 10_000 });
  }, 90_000);

  it('shows the run as finished: final status, sites finished with their last-seen time, nothing ticking', async () => {
    await page.waitForSelector('body[data-final="true"]', { timeout: 10_000 });
    // A site's leaving after the end gives its last-seen time; the dashboard draws peer events at most every
    // 250 ms. Once the coordinator lists no site and that window has passed, the final view is settled.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const live = (await (await fetch(`${coordinator.url}/api/live`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as { sites: unknown[] };
      if (live.sites.length === 0) break;
      if (Date.now() > deadline) throw new Error(`sites still listed after the run: ${JSON.stringify(live.sites)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.waitForTimeout(600);
    expect(await page.getAttribute('body', 'data-phase')).toBe('complete');
    expect(await page.textContent('[data-testid="phase"]')).toMatch(/^complete · \d/);
    const rows = await siteRows(page);
    expect(rows.map((r) => r.site).sort()).toEqual(['site-a', 'site-b']);
    for (const r of rows) {
      expect(r.connected).toBe('false');
      expect(r.status).toBe('finished');
      expect(r.lastSeen).toMatch(/\d{1,2}:\d{2}:\d{2}/);
      expect(r.lastSeen).not.toMatch(/now|ago/);
    }
    // The coordinator still sends live status every 2 s: the finished view does not move.
    await page.waitForTimeout(2_500);
    expect(await siteRows(page)).toEqual(rows);
    expect(await page.textContent('[data-testid="phase"]')).toMatch(/^complete/);
  }, 30_000);

  it('a reload connects with the token kept in sessionStorage and rebuilds the final view from the snapshot', async () => {
    expect(await page.evaluate(() => sessionStorage.getItem('fedtune.adminToken'))).toBe(adminToken);
    await page.reload();
    await page.waitForSelector('body[data-final="true"]', { timeout: 10_000 });
    expect(await page.getAttribute('body', 'data-auth')).toBe('token');
    expect(await page.isVisible('#auth')).toBe(false);
    expect((await siteRows(page)).map((r) => r.status)).toEqual(['finished', 'finished']);
  }, 30_000);

  it("the run's model files need the token: the dashboard's links fetch them with it and open them as blobs", async () => {
    const href = `/api/runs/dash-token/model/model.json`;
    expect((await fetch(`${coordinator.url}${href}`)).status).toBe(401);
    const [popup] = await Promise.all([page.context().waitForEvent('page'), page.click(`#links a[href="${href}"]`)]);
    await popup.waitForLoadState();
    expect(popup.url()).toMatch(/^blob:/);
    expect(await popup.evaluate(() => document.body.innerText)).toContain('weightsManifest');
    await popup.close();
  }, 30_000);

  it('a wrong token is refused with the form shown again', async () => {
    const other = await (await browser.newContext()).newPage();
    other.on('request', (r) => void requested.push(r.url()));
    await other.goto(`${coordinator.url}/`);
    await other.waitForSelector('body[data-auth="needed"]');
    await other.fill('#auth-token', `${adminToken}x`);
    await other.click('#auth button[type="submit"]');
    await other.waitForFunction(() => /refused/.test(document.getElementById('auth-message')?.textContent ?? ''), undefined, { timeout: 10_000 });
    expect(await other.textContent('#auth-message')).toMatch(/invalid admin token/);
    expect(await other.getAttribute('body', 'data-connected')).toBe('false');
  }, 30_000);

  it('never puts the admin token in a URL or on the console', () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((u) => u.includes(adminToken) || u.includes(encodeURIComponent(adminToken)))).toEqual([]);
    expect(consoleText.filter((t) => t.includes(adminToken))).toEqual([]);
  });
});

describe.runIf(mode === 'run')('dashboard after the run, without an admin token (Chromium)', () => {
  it('issue 12 item 8: the run ends and the dashboard says so; sites are not left "connected / now"', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'dash-open', minSites: 2, rounds: 1, apiRateLimit: false });
    const browser = await launchChromium();
    try {
      expect(coordinator.exposure()).toMatchObject({ adminTokenRequired: false });
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${coordinator.url}/`);
      await page.waitForSelector('body[data-connected="true"]', { timeout: 10_000 });
      const honest = await Promise.all([honestSite(coordinator.url!, 'site-a'), honestSite(coordinator.url!, 'site-b', { seed: 5 })]);
      expect((await coordinator.done).status).toBe('complete');
      for (const s of honest) await s.run;
      await page.waitForSelector('body[data-rounds="1"]', { timeout: 10_000 });
      await page.waitForTimeout(2_500);
      expect(await page.textContent('[data-testid="phase"]')).toMatch(/^complete/);
      const rows = await siteRows(page);
      expect(rows.map((r) => [r.site, r.connected, r.status])).toEqual([['site-a', 'false', 'finished'], ['site-b', 'false', 'finished']]);
      for (const r of rows) expect(r.lastSeen).not.toMatch(/now|ago/);
    } finally {
      await browser.close();
      await coordinator.close();
    }
  }, 60_000);
});
