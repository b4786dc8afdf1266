import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import type { AdminGuard } from '../../coordinator/src/access/admin-guard.ts';
import { tempDir } from '../helpers/federation.ts';

const runsDir = tempDir('fedtune-audit-route-');
mkdirSync(join(runsDir, 'r1'));
const text = `${JSON.stringify({ seq: 0, at: 't', type: 'join', data: { siteId: 'site-a' }, prev: '0'.repeat(64), hash: '1'.repeat(64) })}\n`;
writeFileSync(join(runsDir, 'r1', 'audit.jsonl'), text);
mkdirSync(join(runsDir, 'r2'));

const admin: AdminGuard = { required: () => true, check: (h) => (h === 'Bearer ADMIN' ? { ok: true } : { ok: false, message: 'no' }) };
const siteTokens = { verify: (name: string, token: string | undefined) => (token === `tok-${name}` ? { ok: true as const } : { ok: false as const, reason: 'invalid token' as const }) };
const { app } = buildApp({ runsDir, maxMessageBytes: 1 << 20, admin, siteTokens, apiRateLimit: false });
afterAll(() => app.close());

describe('GET /api/v1/runs/:id/audit', () => {
  const cases: Array<[string, string, Record<string, string>, number, string | undefined]> = [
    ['admin token', '/api/v1/runs/r1/audit', { authorization: 'Bearer ADMIN' }, 200, undefined],
    ['the unversioned path', '/api/runs/r1/audit', { authorization: 'Bearer ADMIN' }, 200, undefined],
    ['a site of the run with its token', '/api/v1/runs/r1/audit', { authorization: 'Bearer tok-site-a', 'x-fedtune-site': 'site-a' }, 200, undefined],
    ['a site that did not join the run', '/api/v1/runs/r1/audit', { authorization: 'Bearer tok-site-b', 'x-fedtune-site': 'site-b' }, 401, 'unauthorized'],
    ['no token', '/api/v1/runs/r1/audit', {}, 401, 'unauthorized'],
    ['a run with no audit log', '/api/v1/runs/r2/audit', { authorization: 'Bearer ADMIN' }, 404, 'not_found'],
    ['an unknown run', '/api/v1/runs/nope/audit', { authorization: 'Bearer ADMIN' }, 404, 'not_found'],
    ['a malformed run id', '/api/v1/runs/..%2F..%2Fetc/audit', { authorization: 'Bearer ADMIN' }, 404, 'not_found'],
  ];
  it.each(cases)('%s', async (_name, url, headers, status, code) => {
    const res = await app.inject({ method: 'GET', url, headers });
    expect(res.statusCode).toBe(status);
    if (status === 200) {
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
      expect(res.body).toBe(text);
    } else {
      expect(res.json().error.code).toBe(code);
    }
  });

  it('is in the OpenAPI document', async () => {
    await app.ready();
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, { get?: { summary?: string } }> };
    expect(doc.paths['/api/v1/runs/{id}/audit']?.get?.summary).toMatch(/audit log/);
    expect(doc.paths['/api/runs/{id}/audit']?.get).toBeDefined();
  });
});
