import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminTokenStore, apiErrorStatus, createCoordinatorServer, errorStatus, type CoordinatorServer } from '@fedtune/coordinator';
import { selectNodeBackend } from '@fedtune/shared/node';
import { runLifecycleErrorStatus } from '../../coordinator/src/http/operations-routes.ts';
import { tempDir, tinyData, tinyModel } from '../access/helpers.ts';

/** Every code's status, from the three catalogues: an answer's status must be its code's. */
const statusOf: Record<string, number> = { ...errorStatus, ...apiErrorStatus, ...runLifecycleErrorStatus };

/** Values put in every route parameter. */
const HOSTILE_PARAMS = [
  '%25',
  '%2525',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '..',
  '.',
  '%00',
  'fedtune.db',
  '%E0%A4%A',
  '%C0%AE%C0%AE',
  '-1',
  '1e309',
  'x'.repeat(4000),
  '%F0%9F%92%A9',
  '__proto__',
  'constructor',
];

const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Bodies sent to every route that takes one (and to the others too: they must not care). */
const HOSTILE_BODIES: Array<{ name: string; payload: string; contentType?: string }> = [
  { name: 'deep object', payload: deep(100_000) },
  { name: 'deep array', payload: '['.repeat(200_000) + ']'.repeat(200_000) },
  { name: 'huge', payload: JSON.stringify({ pad: 'x'.repeat(3 * 1024 * 1024) }) },
  { name: 'malformed', payload: '{"runId":' },
  { name: 'empty json', payload: '' },
  { name: 'proto pollution', payload: '{"__proto__":{"polluted":1},"runId":"p"}' },
  { name: 'constructor pollution', payload: '{"constructor":{"prototype":{"polluted":1}}}' },
  { name: 'array', payload: '[1,2,3]' },
  { name: 'number', payload: '1e999' },
  { name: 'string', payload: '"x"' },
  { name: 'null', payload: 'null' },
  { name: 'form', payload: 'a=b', contentType: 'application/x-www-form-urlencoded' },
  { name: 'xml', payload: '<a/>', contentType: 'application/xml' },
  { name: 'bad charset', payload: '{}', contentType: 'application/json; charset=utf-99' },
  { name: 'text', payload: 'hello', contentType: 'text/plain' },
  { name: 'octet', payload: '\u0000\u0001', contentType: 'application/octet-stream' },
];

interface Route {
  method: string;
  url: string;
}

describe('every route against hostile input: never a 500, and the status always matches the code', () => {
  const runsDir = tempDir();
  let server: CoordinatorServer;
  const routes: Route[] = [];
  let token = '';

  beforeAll(async () => {
    const admin = new AdminTokenStore(`${runsDir}/fedtune.db`);
    const made = admin.create();
    token = 'token' in made ? made.token : '';
    server = createCoordinatorServer({
      runsDir,
      holdout: tinyData(30, 1),
      architecture: 'tiny',
      backend: (await selectNodeBackend()).backend,
      transport: 'socket',
      maxMessageBytes: 1024 * 1024,
      loadModel: async () => tinyModel(),
      apiRateLimit: false,
      adminTokens: admin,
      requireAdminToken: true,
    });
    const app = server.app!.app;
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
    });
    await app.ready();
  });
  afterAll(async () => {
    await server.close();
  });

  const check = async (label: string, request: { method: string; url: string; payload?: string; headers?: Record<string, string> }) => {
    const res = await server.app!.app.inject({ ...request, method: request.method as 'GET' });
    expect(res.statusCode, label).toBeLessThan(500);
    if (res.statusCode >= 400) {
      const body = res.json() as { error?: { code?: string; message?: string } };
      expect(body.error?.code, label).toBeTypeOf('string');
      expect(statusOf[body.error!.code!], `${label}: ${body.error!.code}`).toBe(res.statusCode);
      expect(body.error!.message!.length, label).toBeLessThanOrEqual(400);
      expect(body.error!.message, label).not.toMatch(/\n\s+at /);
    }
    return res.statusCode;
  };

  it('walks the registered routes', () => {
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(routes).toEqual(expect.arrayContaining([{ method: 'POST', url: '/api/runs' }, { method: 'GET', url: '/site/*' }, { method: 'GET', url: '/metrics' }]));
  });

  it('hostile route parameters, with and without the admin token', async () => {
    const seen = new Set<number>();
    for (const route of routes) {
      if (route.url === '/api/events') continue; // a stream that never ends; its guard is covered below
      const params = route.url.match(/:\w+|\*/g) ?? [];
      for (const value of params.length ? HOSTILE_PARAMS : ['']) {
        const url = route.url.replace(/:\w+|\*/g, value);
        for (const headers of <Array<Record<string, string>>>[{ authorization: `Bearer ${token}` }, {}, { authorization: `Bearer ${'%'.repeat(600)}` }]) {
          seen.add(await check(`${route.method} ${url.slice(0, 80)}`, { method: route.method, url, headers }));
        }
      }
    }
    expect(seen.has(401)).toBe(true);
    expect(seen.has(404)).toBe(true);
  });

  it('hostile bodies to every route, with the admin token', async () => {
    const statuses = new Map<string, number>();
    for (const route of routes) {
      if (route.url === '/api/events') continue;
      const url = route.url.replace(/:\w+|\*/g, 'x');
      for (const body of HOSTILE_BODIES) {
        const method = route.method === 'GET' ? 'POST' : route.method; // a GET route with a body: wrong method, still typed
        const status = await check(`${method} ${url} ${body.name}`, {
          method,
          url,
          payload: body.payload,
          headers: { authorization: `Bearer ${token}`, 'content-type': body.contentType ?? 'application/json' },
        });
        if (url === '/api/runs') statuses.set(body.name, status);
      }
    }
    expect(statuses.get('deep object')).toBe(400);
    expect(statuses.get('deep array')).toBe(400);
    expect(statuses.get('huge')).toBe(413);
    expect(statuses.get('form')).toBe(415);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a run configuration with hostile keys: a typed 400 naming at most 20 of them, each clipped, answered at once', async () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < 60_000; i++) many[`k${i}`] = 1;
    const bodies: Array<[string, string, RegExp]> = [
      // Object's own names are unknown fields, not the schema's (they crashed the unknown-field walk: a 500).
      ['toString', '{"train":{"toString":{"a":1}}}', /^invalid run configuration: train\.toString: unknown field; known fields: epochs, /],
      ['hasOwnProperty', '{"hasOwnProperty":{"a":1}}', /^invalid run configuration: hasOwnProperty: unknown field; /],
      ['valueOf', '{"robustness":{"valueOf":1}}', /^invalid run configuration: robustness\.valueOf: unknown field; /],
      // A 900 KB key: echoed as 120 characters, and no spelling hint computed over its length (that blocked the event loop for tens of seconds).
      ['900 KB key', JSON.stringify({ ['k'.repeat(900_000)]: 1 }), new RegExp(`^invalid run configuration: ${'k'.repeat(120)}: unknown field; `)],
      // 60,000 unknown keys: the walk stops at 20; the answer starts with the first (clipped at 300 characters).
      ['60,000 keys', JSON.stringify(many), /^invalid run configuration: k0: unknown field/],
    ];
    for (const [label, payload, message] of bodies) {
      const res = await server.app!.app.inject({ method: 'POST', url: '/api/runs', payload, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
      expect(res.statusCode, label).toBe(400);
      expect(res.json().error.code, label).toBe('config');
      expect(res.json().error.message, label).toMatch(message);
      await check(label, { method: 'POST', url: '/api/runs', payload, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    }
  }, 20_000);

  it('the event stream refuses without the token', async () => {
    const res = await server.app!.app.inject({ method: 'GET', url: '/api/events' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });
});
