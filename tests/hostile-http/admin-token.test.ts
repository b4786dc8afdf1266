import { fedtune as runFedtune } from '../helpers/fedtune-cli.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminTokenStore, errorStatus, isLoopbackHost, SiteTokenStore, type RunningCoordinator } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';

/** Runs the real CLI to its end. */
const fedtune = (args: string[]) => runFedtune(args).done;

/** Every route of the control plane: mutating ones and those that list site names. */
const controlPlane = (runId: string) => [
  { method: 'POST' as const, url: `/api/runs/${runId}/stop` },
  { method: 'POST' as const, url: `/api/runs/${runId}/start` },
  { method: 'POST' as const, url: '/api/runs', payload: { runId: 'other', rounds: 1 } },
  { method: 'GET' as const, url: `/api/runs/${runId}/sites` },
  { method: 'GET' as const, url: `/api/runs/${runId}` },
  { method: 'GET' as const, url: `/api/runs/${runId}/rounds` },
  { method: 'GET' as const, url: '/api/live' },
  { method: 'GET' as const, url: '/api/events' },
];

describe('admin token on the control plane (finding 5)', () => {
  const db = join(tempDir(), 'fedtune.db');
  const sites = new SiteTokenStore(db);
  let coordinator: RunningCoordinator;

  beforeAll(async () => {
    sites.add('site-a'); // a registered site: site tokens are required, so the control plane is closed too
    coordinator = await startTinyCoordinator({ runId: 'guarded', minSites: 1, access: { store: sites }, apiRateLimit: false });
  });
  afterAll(async () => {
    await coordinator.close();
    sites.close();
  });

  const inject = (r: { method: 'GET' | 'POST'; url: string; payload?: unknown }, token?: string) =>
    coordinator.app!.app.inject({ ...r, payload: r.payload as never, headers: token === undefined ? {} : { authorization: token } });

  it('with site tokens required and no admin token made yet: every control-plane route refuses, saying to run fedtune admin-token', async () => {
    expect(coordinator.exposure()).toMatchObject({ loopback: true, siteTokensRequired: true, adminTokenRequired: true, adminTokenExists: false });
    for (const route of controlPlane('guarded')) {
      const res = await inject(route);
      expect(res.statusCode, route.url).toBe(401);
      expect(res.json().error.code, route.url).toBe('unauthorized');
      expect(res.json().error.message, route.url).toMatch(/fedtune admin-token --db .*fedtune\.db/);
    }
    // The run was not stopped by any of that.
    expect(coordinator.engine.report.status).toBe('waiting');
    // Health, the runs list, metrics and docs stay open.
    for (const url of ['/api/health', '/api/runs', '/metrics', '/docs/json']) expect((await inject({ method: 'GET', url })).statusCode, url).toBe(200);
  });

  // Issue 11 follow-up: /docs/json did not say which routes need the token, nor the 401/413/415/429 they give.
  it('the OpenAPI document declares the bearer scheme, and exactly the routes that answer 401 without a token carry it', async () => {
    const spec = (await inject({ method: 'GET', url: '/docs/json' })).json() as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: Array<Record<string, string[]>>; responses: Record<string, unknown> }>>;
    };
    expect(spec.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    let admin = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        // The run's terms answer 401 to a caller without a *site* token (the hello's rule), not an admin token.
        if (path === '/api/v1/terms') continue;
        const url = path.replace('{id}', 'guarded').replace('{*}', 'model.json').replace('{round}', '1').replace('{file}', 'weights.bin');
        const res = await inject({ method: method.toUpperCase() as 'GET' | 'POST', url, payload: method === 'post' ? {} : undefined });
        const guarded = res.statusCode === 401;
        expect(op.security, `${method} ${path}`).toEqual(guarded ? [{ adminToken: [] }] : undefined);
        if (!guarded) continue;
        admin++;
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
        if (method !== 'get') expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
      }
    }
    // Every control-plane route that the document lists (the dashboard's /api/events is not part of the API).
    // Plus the run's audit log at its two addresses (/api/v1/runs/{id}/audit, /api/runs/{id}/audit: the admin
    // token, or a site token of the run), a past run's report.html (/api/runs/{id}/report.html) and its global
    // models (/api/runs/{id}/model/{*}, /api/runs/{id}/rounds/{round}/model/{file}: likewise).
    expect(admin).toBe(controlPlane('guarded').length - 1 + 5);
  });

  it('anonymous, malformed and wrong tokens get 401 unauthorized; the right one works; rotating retires the old one', async () => {
    const admin = new AdminTokenStore(db);
    const made = admin.create();
    if (!('token' in made)) throw new Error('expected a new token');
    expect(admin.create()).toHaveProperty('exists'); // a second create does not replace it
    for (const header of [undefined, '', made.token, `Basic ${made.token}`, `Bearer ${made.token}x`, `Bearer ${'a'.repeat(5000)}`, 'Bearer ']) {
      const res = await inject({ method: 'POST', url: '/api/runs/guarded/stop' }, header);
      expect(res.statusCode, String(header).slice(0, 20)).toBe(401);
      expect(res.json().error).toEqual({ code: 'unauthorized', message: expect.stringMatching(/admin token/) });
      expect(res.json().error.message.length).toBeLessThan(400);
    }
    expect(errorStatus.unauthorized).toBe(401);
    const sitesRes = await inject({ method: 'GET', url: '/api/runs/guarded/sites' }, `Bearer ${made.token}`);
    expect(sitesRes.statusCode).toBe(200);
    expect(sitesRes.json()).toMatchObject({ runId: 'guarded', source: 'live' });
    expect(admin.info()?.lastUsedAt).toBeDefined();

    const rotated = admin.create({ rotate: true });
    if (!('token' in rotated)) throw new Error('expected a rotated token');
    expect((await inject({ method: 'GET', url: '/api/live' }, `Bearer ${made.token}`)).statusCode).toBe(401);
    expect((await inject({ method: 'GET', url: '/api/live' }, `bearer ${rotated.token}`)).statusCode).toBe(200);
    const stop = await inject({ method: 'POST', url: '/api/runs/guarded/stop' }, `Bearer ${rotated.token}`);
    expect(stop.statusCode).toBe(202);
    admin.close();
    // The database holds a salted hash, never the token.
    for (const f of [db, `${db}-wal`]) if (existsSync(f)) expect(readFileSync(f).includes(Buffer.from(rotated.token))).toBe(false);
  });
});

describe('when the control plane is open', () => {
  it('a loopback coordinator without site tokens needs no admin token (as before)', async () => {
    const c = await startTinyCoordinator({ runId: 'open-loopback', apiRateLimit: false });
    try {
      expect(c.exposure()).toMatchObject({ host: '127.0.0.1', loopback: true, adminTokenRequired: false });
      expect((await c.app!.app.inject({ method: 'GET', url: '/api/runs/open-loopback/sites' })).statusCode).toBe(200);
    } finally {
      await c.close();
    }
  });

  it('bound to every interface, the control plane needs the admin token even without site tokens', async () => {
    const c = await startTinyCoordinator({ runId: 'exposed', host: '0.0.0.0', apiRateLimit: false });
    try {
      expect(c.exposure()).toMatchObject({ host: '0.0.0.0', loopback: false, siteTokensRequired: false, adminTokenRequired: true });
      const res = await c.app!.app.inject({ method: 'POST', url: '/api/runs/exposed/stop' });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
      expect(c.engine.report.status).toBe('waiting');
    } finally {
      await c.close();
    }
  });

  it('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.org', '']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('fedtune admin-token', () => {
  it('prints a token once, refuses to replace it without --rotate, rotates, revokes; only a hash is stored', async () => {
    const db = join(tempDir(), 'runs', 'fedtune.db');
    const made = await fedtune(['admin-token', '--db', db]);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/shown only this once/i);
    const again = await fedtune(['admin-token', '--db', db]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/fedtune: config: an admin token already exists .*--rotate/);
    const rotated = await fedtune(['admin-token', '--rotate', '--db', db]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const store = new AdminTokenStore(db);
    expect(store.verify(token)).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.verify(rotated.stdout.trim())).toEqual({ ok: true });
    store.close();
    for (const f of [db, `${db}-wal`]) if (existsSync(f)) expect(readFileSync(f).includes(Buffer.from(rotated.stdout.trim()))).toBe(false);
    const revoked = await fedtune(['admin-token', '--revoke', '--db', db]);
    expect(revoked.code, revoked.stderr).toBe(0);
  });
});
