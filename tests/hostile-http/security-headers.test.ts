import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, LiveEvents, type CoordinatorApp } from '@fedtune/coordinator';
import { DASHBOARD_CSP, DOCS_CSP } from '../../coordinator/src/http/security-headers.ts';
import { siteCsp } from '../../coordinator/src/http/site-csp.ts';
import { tempDir } from '../helpers/federation.ts';

// Audit: only report.html sent security headers. Every response now says nosniff and DENY (framing); HTML pages
// carry a CSP with frame-ancestors 'none': the dashboard a strict one its own code satisfies
// (tests/browser/dashboard-csp.test.ts), the browser site and the Swagger UI strict ones of their own
// (tests/browser/site-csp.test.ts checks them in Chromium).

describe('security headers on every route', () => {
  let c: CoordinatorApp;
  let url: string;
  const siteDir = tempDir('fedtune-site-');

  beforeAll(async () => {
    mkdirSync(join(siteDir, 'tfjs-wasm'));
    writeFileSync(join(siteDir, 'index.html'), '<!doctype html><title>site</title>');
    writeFileSync(join(siteDir, 'app.js'), 'export {};');
    writeFileSync(join(siteDir, 'tfjs-wasm', 'x.wasm'), Buffer.from([0, 97, 115, 109]));
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, events: new LiveEvents(), siteDir, live: () => ({ runId: 'r1', phase: 'waiting', sites: [] }) });
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => c.app.close());

  const pages: Array<[string, string]> = [
    ['/', DASHBOARD_CSP],
    ['/dashboard/index.html', DASHBOARD_CSP],
    ['/site/', siteCsp('')],
    ['/site/index.html', siteCsp('')],
    ['/docs/', DOCS_CSP],
    ['/docs', DOCS_CSP],
  ];
  it.each(pages)('HTML %s: nosniff, DENY, its CSP with frame-ancestors none', async (route, csp) => {
    const res = await c.app.inject({ method: 'GET', url: route });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toBe(csp);
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('the browser site: only its own origin, plus the origin its ?server= names (http(s) and ws(s)), wasm but no eval', async () => {
    const plain = (await c.app.inject({ url: '/site/' })).headers['content-security-policy'] as string;
    expect(plain).toBe("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    const other = (await c.app.inject({ url: `/site/?site=a&server=${encodeURIComponent('https://coord.example:8443/prefix')}` })).headers['content-security-policy'] as string;
    expect(other).toContain("connect-src 'self' https://coord.example:8443 wss://coord.example:8443;");
    // The routed path decides, not the spelling: /%73ite/ is the site too.
    expect((await c.app.inject({ url: '/%73ite/?server=http%3A%2F%2Fx.example' })).headers['content-security-policy']).toContain("connect-src 'self' http://x.example ws://x.example;");
    // A ?server= that is no clean origin adds nothing: a host with ; , * or ' would have written the header.
    for (const bad of ['http://a;script-src *', "http://a',b", 'javascript:alert(1)', 'http://u:p@x.example', `http://${'a'.repeat(3000)}.example`]) {
      const csp = (await c.app.inject({ url: `/site/?server=${encodeURIComponent(bad)}` })).headers['content-security-policy'];
      expect(csp, bad).toBe(plain);
    }
  });

  const others: Array<[string, number, string]> = [
    ['/dashboard/dashboard.js', 200, 'text/javascript'],
    ['/dashboard/dashboard.css', 200, 'text/css'],
    ['/site/app.js', 200, 'text/javascript'],
    ['/site/tfjs-wasm/x.wasm', 200, 'application/wasm'],
    ['/site/missing.js', 404, 'application/json'],
    ['/api/health', 200, 'application/json'],
    ['/api/runs', 200, 'application/json'],
    ['/api/live', 200, 'application/json'],
    ['/api/runs/nope', 404, 'application/json'],
    ['/api/runs/nope/report.html', 404, 'application/json'],
    ['/api/runs/nope/model/model.json', 404, 'application/json'],
    ['/docs/json', 200, 'application/json'],
    ['/metrics', 200, 'text/plain'],
    ['/no-such-route', 404, 'application/json'],
  ];
  it.each(others)('%s: nosniff and DENY, no page CSP on a non-HTML body', async (route, status, type) => {
    const res = await c.app.inject({ method: 'GET', url: route });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain(type);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    if (!route.startsWith('/dashboard/')) expect(res.headers['content-security-policy']).toBeUndefined();
  });

  it('the event stream (a hijacked reply) says nosniff and DENY too', async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/api/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    controller.abort();
  });
});
