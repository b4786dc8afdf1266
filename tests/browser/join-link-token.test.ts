import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, DEFAULT_SITE_DIR, type CoordinatorApp } from '@fedtune/coordinator';
import { joinLinkWithoutToken, parseJoinLink } from '../../client-web/src/join-link.ts';
import { tempDir } from '../helpers/federation.ts';
import { browserTestModeWithNotice, launchChromium, MISSING_CHROMIUM } from './chromium.ts';

// Audit: a browser join link's site token (/site/?server=…&site=…&token=SECRET) stayed in the address bar and the
// browser's history. The page reads it into the token field, then takes it out of the address (history.replaceState).

describe('joinLinkWithoutToken', () => {
  it.each([
    ['http://c:8080/site/?server=http%3A%2F%2Fc%3A8080&site=a&token=SECRET', 'http://c:8080/site/?server=http%3A%2F%2Fc%3A8080&site=a'],
    ['http://c/site/?token=SECRET', 'http://c/site/'],
    ['http://c/site/?token=a&site=b&token=c#x', 'http://c/site/?site=b#x'],
    ['http://c/site/?site=a', undefined],
    ['http://c/site/', undefined],
  ])('%s → %s', (href, expected) => expect(joinLinkWithoutToken(href)).toBe(expected));

  it('keeps what the link says besides the token (a policy as JSON too)', () => {
    const policy = JSON.stringify({ privacy: { minExamplesPerMetric: 50 }, note: 'a b&c=d' });
    const href = `http://c/site/?server=http%3A%2F%2Fc&site=a&token=T&backend=wasm&policy=${encodeURIComponent(policy)}`;
    const { token, ...rest } = parseJoinLink(href);
    expect(token).toBe('T');
    expect(parseJoinLink(joinLinkWithoutToken(href)!)).toEqual({ ...rest, token: undefined });
  });
});

const mode = browserTestModeWithNotice('tests/browser/join-link-token.test.ts');

describe.runIf(mode === 'fail')('browser tests in CI', () => {
  it('need Chromium', () => {
    throw new Error(MISSING_CHROMIUM);
  });
});

describe.runIf(mode === 'run')('the browser site takes the token out of the address bar (Chromium)', () => {
  let c: CoordinatorApp;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(DEFAULT_SITE_DIR, 'index.html'))) throw new Error(`client-web is not built (${DEFAULT_SITE_DIR}): run "npm run build"`);
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20 });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.close();
  });

  it('after load: the token is in the token field, not in location.search nor the history entry', async () => {
    const page = await browser.newPage();
    try {
      const query = `server=${encodeURIComponent(url)}&site=browser-7&token=SECRET-site-token`;
      await page.goto(`${url}/site/?${query}`);
      await page.waitForFunction(() => (document.getElementById('token') as HTMLInputElement | null)?.value === 'SECRET-site-token', undefined, { timeout: 30_000 });
      const seen = await page.evaluate(() => ({ search: location.search, href: location.href, site: (document.getElementById('site') as HTMLInputElement).value }));
      expect(seen.search).toBe(`?server=${encodeURIComponent(url)}&site=browser-7`);
      expect(seen.href).not.toContain('SECRET');
      expect(seen.site).toBe('browser-7');
      expect(page.url()).not.toContain('SECRET');
      // Replaced, not pushed: the entry before it is the blank tab, none holds the token.
      await page.goBack();
      expect(page.url()).toBe('about:blank');
    } finally {
      await page.close();
    }
  }, 60_000);
});
