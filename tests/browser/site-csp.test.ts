import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type CoordinatorApp } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';
import { recordViolations, violations } from './csp-violations.ts';

// Audit: a join link (/site/?server=…) on the real coordinator could point the browser site at another server.
// The page now connects to its own origin; another origin is shown and reached only after a confirming click.
// And the page (and /docs) run under strict CSPs with no violation. The other server here counts every
// request and upgrade it gets.

const mode = browserTestModeWithNotice('tests/browser/site-csp.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});


describe.runIf(mode === 'run')('browser site join link and CSP (Chromium)', () => {
  let c: CoordinatorApp;
  let url: string;
  let browser: Browser;
  let other: Server;
  let otherUrl: string;
  let otherHits = 0;
  const csv = join(tempDir('fedtune-site-csp-'), 'data.csv');

  beforeAll(async () => {
    writeFileSync(csv, ['label,a,b', ...Array.from({ length: 40 }, (_, i) => `${i % 2},${i},${(i * 7) % 5}`)].join('\n') + '\n');
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20 });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    other = createServer((_req, res) => {
      otherHits++;
      res.end();
    });
    other.on('upgrade', (_req, socket) => {
      otherHits++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.close();
    other?.close();
  });

  const loaded = async (page: Page) => {
    await page.waitForSelector('[data-testid="backend"][data-backend]', { timeout: 30_000 });
    await page.setInputFiles('#csv-file', csv);
    await page.waitForSelector('body[data-phase="loaded"]', { timeout: 30_000 });
  };

  it('a ?server= on another origin: shown, nothing sent there until the click; the click connects there', async () => {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('websocket', (ws) => requested.push(ws.url()));
    try {
      await recordViolations(page);
      const res = await page.goto(`${url}/site/?server=${encodeURIComponent(`${otherUrl}/some/path`)}&site=b1`);
      expect(res!.headers()['content-security-policy']).toContain(`connect-src 'self' ${otherUrl} ${otherUrl.replace('http', 'ws')};`);
      await loaded(page);
      expect(await page.isVisible('[data-testid="server-confirm"]')).toBe(true);
      expect(await page.textContent('[data-testid="server-confirm-origin"]')).toBe(otherUrl);
      // The field holds this page's coordinator, and Join waits for a choice.
      expect(await page.inputValue('#server')).toBe(url);
      expect(await page.isDisabled('#join')).toBe(true);
      await page.waitForTimeout(500);
      expect(otherHits).toBe(0);
      expect(requested.filter((u) => u.includes(otherUrl.slice(7)))).toEqual([]);
      await page.click('#server-confirm-use');
      expect(await page.isVisible('[data-testid="server-confirm"]')).toBe(false);
      expect(await page.inputValue('#server')).toBe(`${otherUrl}/some/path`);
      await page.click('#join');
      await expect.poll(() => otherHits, { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await violations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a ?server= on another origin, declined: this page\'s coordinator, nothing sent to the other', async () => {
    const before = otherHits;
    const page = await browser.newPage();
    try {
      await page.goto(`${url}/site/?server=${encodeURIComponent(otherUrl)}`);
      await loaded(page);
      await page.click('#server-confirm-stay');
      expect(await page.inputValue('#server')).toBe(url);
      expect(await page.isDisabled('#join')).toBe(false);
      expect(otherHits).toBe(before);
    } finally {
      await page.close();
    }
  });

  it('a same-origin ?server= and none: no prompt, the page\'s coordinator; no CSP violation while it starts', async () => {
    for (const query of [`?server=${encodeURIComponent(url)}`, '']) {
      const page = await browser.newPage();
      try {
        await recordViolations(page);
        await page.goto(`${url}/site/${query}`);
        await loaded(page);
        expect(await page.isHidden('[data-testid="server-confirm"]')).toBe(true);
        expect(await page.inputValue('#server')).toBe(url);
        expect(await page.isDisabled('#join')).toBe(false);
        expect(await violations(page)).toEqual([]);
      } finally {
        await page.close();
      }
    }
  });

  it('a malformed ?server=: one clear line (its text not echoed), the page\'s coordinator', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${url}/site/?server=${encodeURIComponent('<b>javascript:alert(1)</b>')}`);
      await page.waitForSelector('[data-testid="server-error"]:not([hidden])');
      const line = (await page.textContent('[data-testid="server-error"]'))!;
      expect(line).toMatch(/^the join link's coordinator \(\?server=\) is not an absolute URL; this page connects only to the coordinator that served it$/);
      expect(await page.$$('[data-testid="server-error"] *')).toHaveLength(0);
      expect(await page.inputValue('#server')).toBe(url);
      expect(await page.isHidden('[data-testid="server-confirm"]')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('/docs (Swagger UI) draws the API under its CSP with no violation', async () => {
    const page = await browser.newPage();
    try {
      await recordViolations(page);
      const res = await page.goto(`${url}/docs`);
      expect(res!.headers()['content-security-policy']).toContain("default-src 'none'");
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      expect(await violations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
