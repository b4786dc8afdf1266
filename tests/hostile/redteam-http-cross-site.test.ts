import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminTokenStore, type RunningCoordinator } from '@fedtune/coordinator';
import { startTinyCoordinator } from '../access/helpers.ts';

/**
 * A coordinator on loopback without site tokens needs no admin token: only this machine can reach it. But the
 * operator's browser is on this machine, and any page it opens could drive the control plane:
 * - a cross-site `fetch(url, { method: 'POST', mode: 'no-cors' })` is a "simple" request, sent without a
 *   preflight: it stopped the run (202);
 * - DNS rebinding (a page of attacker.example whose name then resolves to 127.0.0.1) is same-origin to the
 *   browser: it read the site names (`/api/live`, the audit log) and could POST anything.
 * Now a request from another page (Sec-Fetch-Site cross-site / same-site, or an Origin that is not the Host) is
 * refused on every control-plane route, and a request addressed to a name that is not loopback needs the admin
 * token even where loopback needs none.
 */
describe('the open loopback control plane against web pages in the operator\'s browser', () => {
  let c: RunningCoordinator;

  beforeAll(async () => {
    c = await startTinyCoordinator({ runId: 'xsite', apiRateLimit: false });
  });
  afterAll(async () => {
    await c.close();
  });

  const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string>) => c.app!.app.inject({ method, url, headers });

  it('a cross-site POST from another page (no preflight) is refused with 401 unauthorized; the run goes on', async () => {
    const pages: Array<[string, Record<string, string>]> = [
      ['fetch no-cors from evil.example', { host: '127.0.0.1:8080', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
      ['a page of another localhost port (same-site)', { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-site' }],
      ['an older browser: Origin only', { host: '127.0.0.1:8080', origin: 'https://evil.example' }],
      ['a sandboxed frame or file:// page', { host: '127.0.0.1:8080', origin: 'null' }],
      ['Sec-Fetch-Site only', { host: 'localhost:8080', 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [label, headers] of pages) {
      for (const [method, url] of [['POST', '/api/runs/xsite/stop'], ['POST', '/api/runs/xsite/start'], ['GET', '/api/live'], ['GET', '/api/runs/xsite/sites']] as const) {
        const res = await inject(method, url, headers);
        expect(res.statusCode, `${label}: ${method} ${url}`).toBe(401);
        expect(res.json().error.code, label).toBe('unauthorized');
        expect(res.json().error.message, label).toMatch(/^requests from another web page .* may not use the control plane/);
        expect(res.json().error.message.length, label).toBeLessThanOrEqual(300);
      }
    }
    expect(c.engine.report.status).toBe('waiting');
  });

  it('DNS rebinding: a request addressed to a name that is not loopback needs the admin token, and there is none', async () => {
    const rebound = { host: 'rebind.evil.example:8080', origin: 'http://rebind.evil.example:8080', 'sec-fetch-site': 'same-origin' };
    for (const [method, url] of [['GET', '/api/live'], ['GET', '/api/runs/xsite/sites'], ['GET', '/api/v1/runs/xsite/audit'], ['POST', '/api/runs/xsite/stop']] as const) {
      const res = await inject(method, url, rebound);
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error.code, url).toBe('unauthorized');
      // The audit log names its own rule (the admin token, or a site token of the run).
      const why = url.endsWith('/audit') ? /^reading a run's audit log needs the admin token/ : /^a request addressed to rebind\.evil\.example, not to this machine's loopback: .*fedtune admin-token/;
      expect(res.json().error.message, url).toMatch(why);
    }
    expect(c.engine.report.status).toBe('waiting');
  });

  it('the dashboard (same origin), curl and scripts on this machine still use it without a token', async () => {
    const honest: Array<[string, Record<string, string>]> = [
      ['the dashboard', { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }],
      ['a typed URL', { host: 'localhost:8080', 'sec-fetch-site': 'none' }],
      ['curl', { host: '127.0.0.1:8080' }],
      ['IPv6 loopback', { host: '[::1]:8080', origin: 'http://[::1]:8080' }],
    ];
    for (const [label, headers] of honest) {
      expect((await inject('GET', '/api/live', headers)).statusCode, label).toBe(200);
      expect((await inject('GET', '/api/runs/xsite/sites', headers)).statusCode, label).toBe(200);
    }
    const stop = await inject('POST', '/api/runs/xsite/stop', { host: '127.0.0.1:8080' });
    expect(stop.statusCode).toBe(202);
  });
});

describe('where the admin token is in force', () => {
  it('a remote name with the token works; a cross-site page is refused even with it', async () => {
    const c = await startTinyCoordinator({ runId: 'remote', host: '0.0.0.0', apiRateLimit: false });
    try {
      const store = new AdminTokenStore(c.exposure()!.adminTokenDb);
      const made = store.create();
      if (!('token' in made)) throw new Error('expected a new token');
      const auth = `Bearer ${made.token}`;
      expect((await c.app!.app.inject({ method: 'GET', url: '/api/live', headers: { host: 'coordinator.example:8080', authorization: auth } })).statusCode).toBe(200);
      const cross = await c.app!.app.inject({ method: 'POST', url: '/api/runs/remote/stop', headers: { host: 'coordinator.example:8080', authorization: auth, origin: 'https://evil.example' } });
      expect(cross.statusCode).toBe(401);
      expect(cross.json().error.message).toMatch(/^requests from another web page/);
      expect(c.engine.report.status).toBe('waiting');
      store.close();
    } finally {
      await c.close();
    }
  });
});
