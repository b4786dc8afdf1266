import Fastify, { type FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { registerApiRateLimit } from '../../coordinator/src/http/api-rate-limit.ts';
import { apiErrorStatus, codeForStatus, errorStatus } from '../../coordinator/src/http/error-status.ts';
import { clientErrorHandler, describeHttpError, MAX_ERROR_MESSAGE } from '../../coordinator/src/http/http-error.ts';
import { jsonDepth, MAX_JSON_DEPTH, registerJsonBodyParser } from '../../coordinator/src/http/json-body.ts';
import type { RateLimit } from '../../coordinator/src/access/rate-limiter.ts';
import { FedtuneError } from '../../shared/src/errors.ts';

/** A bare fastify app with the coordinator's error handling (build-app.ts): what these modules do, without a coordinator. */
const apps: FastifyInstance[] = [];
function bareApp(setup: (app: FastifyInstance) => void): FastifyInstance {
  const app = Fastify({ logger: false });
  app.setErrorHandler((err: unknown, _request, reply) => {
    const { status, code, message } = describeHttpError(err);
    void reply.status(status).send({ error: { code, message } });
  });
  setup(app);
  apps.push(app);
  return app;
}
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('jsonDepth: the deepest [ or { outside strings, in one pass', () => {
  it.each([
    ['', 0],
    ['1', 0],
    ['{}', 1],
    ['[]', 1],
    ['[[]]', 2],
    ['[{}, {}, []]', 2],
    ['{"a":[{"b":[]}]}', 4],
    ['"[[["', 0],
    ['{"a":"}}}{{{"}', 1],
    ['"\\"[["', 0], // an escaped quote does not end the string
    ['"\\\\"[', 1], // an escaped backslash does: the [ is outside
    ['\\[', 1], // a backslash outside a string is nothing special
    [']]][', 0], // unbalanced closers never raise the depth
    ['[]]]][[', 1],
    ['[][][]', 1],
    [nested(40), 40],
  ])('%j → %i', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });

  it('stops counting once past the limit, returning the depth where it stopped', () => {
    expect(jsonDepth('[[[[]]]]', 1)).toBe(2);
    expect(jsonDepth('[[[[]]]]', 3)).toBe(4);
    expect(jsonDepth('[[[[]]]]', 4)).toBe(4);
    expect(jsonDepth('[[[]]][[[[[]]]]]', 3)).toBe(4);
    expect(jsonDepth('[[[]]][[[[[]]]]]')).toBe(5);
    expect(MAX_JSON_DEPTH).toBe(32);
  });
});

describe('registerJsonBodyParser: depth bounded before parsing, then parsed as fastify does', () => {
  function echo(maxDepth?: number) {
    return bareApp((app) => {
      registerJsonBodyParser(app, maxDepth);
      app.post('/echo', async (request) => ({ body: request.body }));
    });
  }
  const post = (app: FastifyInstance, payload: string, contentType = 'application/json') => app.inject({ method: 'POST', url: '/echo', payload, headers: { 'content-type': contentType } });

  it('takes a body exactly as deep as the bound and refuses one level more (400 malformed_payload, naming the bound)', async () => {
    const app = echo(3);
    expect((await post(app, nested(3))).json()).toEqual({ body: { a: { a: { a: 1 } } } });
    const refused = await post(app, nested(4));
    expect([refused.statusCode, refused.json()]).toEqual([400, { error: { code: 'malformed_payload', message: 'JSON body nested deeper than 3 levels' } }]);
    // Brackets inside strings are text.
    expect((await post(app, '{"a":"[[[[[[[[[["}')).json()).toEqual({ body: { a: '[[[[[[[[[[' } });
  });

  it('bounds at MAX_JSON_DEPTH (32) by default', async () => {
    const app = echo();
    expect((await post(app, nested(32))).statusCode).toBe(200);
    expect((await post(app, nested(33))).json()).toEqual({ error: { code: 'malformed_payload', message: 'JSON body nested deeper than 32 levels' } });
  });

  it("refuses __proto__ and constructor.prototype keys and malformed JSON as 400, like fastify's own parser", async () => {
    const app = echo();
    for (const payload of ['{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":', '{a:1}']) {
      const res = await post(app, payload);
      expect([res.statusCode, res.json().error.code], payload).toEqual([400, 'malformed_payload']);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    // The parser still serves application/json with parameters.
    expect((await post(app, '{"b":2}', 'application/json; charset=utf-8')).json()).toEqual({ body: { b: 2 } });
  });
});

describe('describeHttpError: a status and a code that agree, and a one-line clipped message', () => {
  it('a FedtuneError keeps its code, gets its catalogue status, and its message clipped at 300 characters', () => {
    for (const [code, status] of Object.entries(errorStatus)) {
      expect(describeHttpError(new FedtuneError(code as keyof typeof errorStatus, 'why'))).toEqual({ status, code, message: 'why' });
    }
    const long = describeHttpError(new FedtuneError('config', 'x'.repeat(400)));
    expect(long.message).toBe(`${'x'.repeat(300)}… (100 more characters)`);
    expect(MAX_ERROR_MESSAGE).toBe(300);
  });

  it.each([
    ['a schema validation error', Object.assign(new Error('body/x must be number\nsecond line'), { validation: [{}], statusCode: 400 }), { status: 400, code: 'config', message: 'body/x must be number' }],
    ['a validation error with another status', Object.assign(new Error('querystring/n must be integer'), { validation: [{}], statusCode: 422 }), { status: 400, code: 'config', message: 'querystring/n must be integer' }],
    ['413 (body too large)', Object.assign(new Error('Request body is too large'), { statusCode: 413 }), { status: 413, code: 'payload_too_large', message: 'Request body is too large' }],
    ['415', Object.assign(new Error('Unsupported Media Type: text/plain\nmore'), { statusCode: 415 }), { status: 415, code: 'unsupported_media_type', message: 'Unsupported Media Type: text/plain' }],
    ['418 (a 4xx without a code)', Object.assign(new Error('teapot'), { statusCode: 418 }), { status: 400, code: 'malformed_payload', message: 'teapot' }],
    ['a status given as text', Object.assign(new Error('odd'), { statusCode: '404' }), { status: 500, code: 'internal', message: 'internal error (see the coordinator log)' }],
    ['503 from a library', Object.assign(new Error('db path /secret/x'), { statusCode: 503 }), { status: 500, code: 'internal', message: 'internal error (see the coordinator log)' }],
    ['a plain Error', new Error('stack of /home/x'), { status: 500, code: 'internal', message: 'internal error (see the coordinator log)' }],
    ['a thrown string', 'boom', { status: 500, code: 'internal', message: 'internal error (see the coordinator log)' }],
    ['null', null, { status: 500, code: 'internal', message: 'internal error (see the coordinator log)' }],
    ['an object with a long one-line message', { statusCode: 404, message: 'y'.repeat(350) }, { status: 404, code: 'not_found', message: `${'y'.repeat(300)}… (50 more characters)` }],
    ['an object whose message is not text', { statusCode: 429, message: 42 }, { status: 429, code: 'rate_limited', message: '42' }],
    ['an object without a message', { statusCode: 401 }, { status: 401, code: 'unauthorized', message: '[object Object]' }],
  ])('%s', (_what, err, expected) => {
    expect(describeHttpError(err)).toEqual(expected);
  });
});

describe('codeForStatus: the code of a status-only error', () => {
  it.each([
    [401, 401, 'unauthorized'],
    [404, 404, 'not_found'],
    [408, 408, 'request_timeout'],
    [413, 413, 'payload_too_large'],
    [415, 415, 'unsupported_media_type'],
    [429, 429, 'rate_limited'],
    [431, 431, 'headers_too_large'],
    [400, 400, 'malformed_payload'],
    [403, 400, 'malformed_payload'],
    [499, 400, 'malformed_payload'],
    [500, 500, 'internal'],
    [503, 500, 'internal'],
    [399, 500, 'internal'],
    [302, 500, 'internal'],
    [undefined, 500, 'internal'],
  ])('%s → %i %s', (status, answered, code) => {
    expect(codeForStatus(status)).toEqual({ status: answered, code });
  });

  it('every code a status maps to answers with that status in the catalogues', () => {
    const statusOf: Record<string, number> = { ...errorStatus, ...apiErrorStatus };
    for (let s = 100; s < 600; s++) {
      const { status, code } = codeForStatus(s);
      expect(statusOf[code], `${s} → ${code}`).toBe(status);
    }
  });

  it('the catalogue: each error code and its status', () => {
    expect(errorStatus).toEqual({
      shape_mismatch: 400, dtype_mismatch: 400, non_finite: 400, invalid_count: 400, update_norm: 400, stale_round: 409, not_selected: 409,
      duplicate_result: 409, malformed_payload: 400, payload_too_large: 413, codec: 400, update_encoding: 400, model_integrity: 502,
      quorum_not_met: 503, no_updates: 503, unauthorized: 401, site_in_use: 409, rate_limited: 429, policy_refused: 403, config: 400, data: 400,
      backend: 500, transport: 502, timeout: 504, not_found: 404, model_refused: 403, persistence: 500, privacy_budget: 409, stale_leader: 409,
      node_busy: 503, internal: 500,
    });
    expect(apiErrorStatus).toEqual({ run_finished: 409, unsupported_media_type: 415, request_timeout: 408, headers_too_large: 431 });
  });
});

describe('clientErrorHandler: a request node could not read gets the typed body, then the socket closes', () => {
  function socket(state: { destroyed?: boolean; writable?: boolean } = {}) {
    const written: string[] = [];
    const s = { destroyed: state.destroyed ?? false, writable: state.writable ?? true, destroyCalls: 0, write: (t: string) => void written.push(t), destroy() { this.destroyCalls++; } };
    return { s, written, asSocket: s as unknown as Socket };
  }
  const err = (code?: string) => Object.assign(new Error('x'), { code }) as NodeJS.ErrnoException;
  const reply = (status: number, code: string, message: string) => {
    const body = JSON.stringify({ error: { code, message } });
    return `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
  };

  it.each([
    ['ERR_HTTP_REQUEST_TIMEOUT', reply(408, 'request_timeout', 'the request did not arrive in time')],
    ['HPE_HEADER_OVERFLOW', reply(431, 'headers_too_large', 'the request headers are too large')],
    ['HPE_INVALID_METHOD', reply(400, 'malformed_payload', 'malformed HTTP request')],
    [undefined, reply(400, 'malformed_payload', 'malformed HTTP request')],
  ])('%s → one typed answer, then destroyed', (code, expected) => {
    const { s, written, asSocket } = socket();
    clientErrorHandler(err(code), asSocket);
    expect(written).toEqual([expected]);
    expect(s.destroyCalls).toBe(1);
  });

  it('writes nothing to a reset, destroyed or unwritable socket (the last is still destroyed)', () => {
    const reset = socket();
    clientErrorHandler(err('ECONNRESET'), reset.asSocket);
    const gone = socket({ destroyed: true });
    clientErrorHandler(err('HPE_HEADER_OVERFLOW'), gone.asSocket);
    const closed = socket({ writable: false });
    clientErrorHandler(err('HPE_HEADER_OVERFLOW'), closed.asSocket);
    expect([reset.written, gone.written, closed.written]).toEqual([[], [], []]);
    expect([reset.s.destroyCalls, gone.s.destroyCalls, closed.s.destroyCalls]).toEqual([0, 0, 1]);
  });
});

describe('registerApiRateLimit: a token bucket per client address and route group', () => {
  const LIMIT: RateLimit = { ratePerSecond: 0.001, burst: 2 };
  function limited() {
    return bareApp((app) => {
      registerApiRateLimit(app, LIMIT, (request, reply) => void reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.url}` } }));
      app.after(() => {
        for (const url of ['/api/runs', '/api/runs/:id', '/api/v1/models/:version/weights', '/metrics', '/docs/json', '/dashboard', '/']) app.get(url, async () => ({ ok: true }));
      });
    });
  }
  const get = (app: FastifyInstance, url: string, remoteAddress = '10.0.0.1') => app.inject({ method: 'GET', url, remoteAddress });

  it('lets `burst` requests through, then answers 429 rate_limited with Retry-After and no other rate headers', async () => {
    const app = limited();
    for (let i = 0; i < 2; i++) {
      const ok = await get(app, '/api/runs');
      expect(ok.statusCode).toBe(200);
      expect(Object.keys(ok.headers).filter((h) => h.startsWith('x-ratelimit') || h === 'retry-after')).toEqual([]);
    }
    const refused = await get(app, '/api/runs');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: { code: 'rate_limited', message: 'too many requests from 10.0.0.1; retry in 1000 s' } });
    expect(refused.headers['retry-after']).toBe('1000');
    expect(Object.keys(refused.headers).filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
  });

  it('keeps one bucket per address and per route group, taken from the route matched (not the raw URL)', async () => {
    const app = limited();
    await get(app, '/api/runs');
    await get(app, '/%61pi/runs/x'); // the same group: /api
    expect((await get(app, '/api/runs/y')).statusCode).toBe(429);
    // Another address has its own bucket; the first one written as IPv4-mapped IPv6 is normalized to the same one.
    expect((await get(app, '/api/runs', '10.0.0.2')).statusCode).toBe(200);
    expect((await get(app, '/api/runs', '::ffff:10.0.0.1')).statusCode).toBe(429);
    // Other groups: model bytes, /metrics, /docs, the root.
    for (const url of ['/api/v1/models/3/weights', '/metrics', '/docs/json', '/dashboard', '/']) {
      expect((await get(app, url)).statusCode, url).toBe(200);
      expect((await get(app, url)).statusCode, url).toBe(200);
      expect((await get(app, url)).statusCode, url).toBe(429);
    }
  });

  it('limits unmatched URLs too, all of them in one bucket of their own per address', async () => {
    const app = limited();
    expect((await get(app, '/nope/1')).json()).toEqual({ error: { code: 'not_found', message: 'no route /nope/1' } });
    expect((await app.inject({ method: 'POST', url: '/api/nope', remoteAddress: '10.0.0.1', payload: {} })).statusCode).toBe(404);
    const refused = await get(app, '/x');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: { code: 'rate_limited', message: 'too many requests from 10.0.0.1; retry in 1000 s' } });
    expect(refused.headers['retry-after']).toBe('1000');
    // The routes' buckets are untouched, the root's included; another address has its own.
    expect((await get(app, '/')).statusCode).toBe(200);
    expect((await get(app, '/api/runs')).statusCode).toBe(200);
    expect((await get(app, '/nope/2', '10.0.0.9')).statusCode).toBe(404);
  });
});
