import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorStatus, buildApp, createCoordinatorServer, errorStatus, type CoordinatorServer } from '@fedtune/coordinator';
import { selectNodeBackend } from '@fedtune/shared/node';
import { requestForLog } from '../../coordinator/src/http/structured-log.ts';
import { tempDir, tinyData, tinyModel } from '../access/helpers.ts';

const statusOf: Record<string, number> = { ...errorStatus, ...apiErrorStatus };

/** A deeply nested JSON value as text, built without recursion. */
const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('HTTP errors: no 500s, and the status always matches the code (finding 9)', () => {
  const runsDir = tempDir();
  let server: CoordinatorServer;

  beforeAll(async () => {
    server = createCoordinatorServer({
      runsDir,
      holdout: tinyData(30, 1),
      architecture: 'tiny',
      backend: (await selectNodeBackend()).backend,
      transport: 'socket',
      maxMessageBytes: 1024 * 1024,
      loadModel: async () => tinyModel(),
      apiRateLimit: false,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (payload: string, contentType = 'application/json') =>
    server.app!.app.inject({ method: 'POST', url: '/api/runs', payload, headers: { 'content-type': contentType } });
  const expectError = (res: { statusCode: number; json(): { error: { code: string; message: string } } }, status: number, code: string) => {
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    expect(statusOf[code]).toBe(status);
    expect(res.json().error.message).not.toMatch(/\n\s+at /);
  };

  it('POST /api/runs {"runId":"fedtune.db"} (a file of the runs dir) and other reserved ids: 400 config, nothing written', async () => {
    // The run database exists as a file next to the runs once the coordinator has opened it.
    expect(readdirSync(runsDir)).toContain('fedtune.db');
    for (const runId of ['fedtune.db', 'fedtune.db-wal', 'FEDTUNE.DB-shm', '.hidden']) {
      const res = await post(JSON.stringify({ runId }));
      expectError(res, 400, 'config');
      expect(res.json().error.message).toMatch(/run id/);
    }
    writeFileSync(join(runsDir, 'notes.txt'), 'a file');
    const file = await post(JSON.stringify({ runId: 'notes.txt' }));
    expectError(file, 400, 'config');
    expect(file.json().error.message).toMatch(/names a file/);
  });

  it('a run id or file name decoded from the URL with control characters is quoted on one line in the error (hostile-peer audit F6)', async () => {
    const evil = encodeURIComponent('\u001b[31m\nX\r\nSet-Cookie: a=b');
    for (const url of [`/api/runs/${evil}/rounds`, `/api/v1/runs/${evil}/audit`, `/api/runs/${evil}`]) {
      const res = await server.app!.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(res.json().error.message, url).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
  });

  it('a request log line quotes the URL clipped and on one line', () => {
    const line = requestForLog({ method: 'GET', url: `/api/runs/${'a'.repeat(10_000)}`, ip: '10.0.0.1' });
    expect(line.url.length).toBeLessThan(400);
    expect(line).toMatchObject({ method: 'GET', remoteAddress: '10.0.0.1', url: expect.stringMatching(/^\/api\/runs\/a{200}.*more characters\)$/) });
    expect(requestForLog({ method: 'GET\n', url: '/x\u001b[2J', socket: { remoteAddress: '::1' } })).toEqual({ method: 'GET ', url: '/x [2J', remoteAddress: '::1' });
  });

  it('strategyOptions nested 200,000 deep: 400 malformed_payload (JSON depth bounded before parsing)', async () => {
    const res = await post(`{"runId":"deep","strategyOptions":{"x":${deep(200_000)}}}`);
    expectError(res, 400, 'malformed_payload');
    expect(res.json().error.message).toMatch(/nested deeper than/);
    // A few levels are fine (refused by the strategy's own check, not by the parser).
    expectError(await post('{"runId":"shallow","strategyOptions":{"x":[[1]]}}'), 400, 'config');
  });

  it('unknown fields (top level and nested) and unknown strategies: 400 config naming them, at POST', async () => {
    const unknownTop = await post(JSON.stringify({ runId: 'u1', roundz: 3 }));
    expectError(unknownTop, 400, 'config');
    expect(unknownTop.json().error.message).toMatch(/roundz: unknown field \(did you mean "rounds"\?\)/);
    const unknownNested = await post(JSON.stringify({ runId: 'u2', train: { epochs: 1, lr: 0.1 } }));
    expectError(unknownNested, 400, 'config');
    expect(unknownNested.json().error.message).toMatch(/train\.lr: unknown field/);
    const strategy = await post(JSON.stringify({ runId: 'u3', strategy: 'fedwat' }));
    expectError(strategy, 400, 'config');
    expect(strategy.json().error.message).toMatch(/unknown strategy "fedwat"/);
    const options = await post(JSON.stringify({ runId: 'u4', strategy: 'krum', strategyOptions: { nonsense: 1 } }));
    expect(options.statusCode).toBe(400);
    expect(readdirSync(runsDir).filter((d) => /^u\d$/.test(d))).toEqual([]);
    // A good one still goes through.
    expect((await post(JSON.stringify({ runId: 'good', strategy: 'median', rounds: 1 }))).statusCode).toBe(201);
  });

  it('body too large 413 payload_too_large, wrong content type 415 unsupported_media_type, malformed JSON 400 malformed_payload', async () => {
    expectError(await post(JSON.stringify({ runId: 'big', pad: 'x'.repeat(2 * 1024 * 1024) })), 413, 'payload_too_large');
    expectError(await post('runId=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
    expectError(await post('{"runId": "x",', 'application/json'), 400, 'malformed_payload');
    expectError(await post('', 'application/json'), 400, 'malformed_payload');
    expectError(await post('{"__proto__": {"x": 1}}', 'application/json'), 400, 'malformed_payload');
    expectError(await post('{"runId": "x"}', 'text/plain'), 400, 'config');
  });
});

describe('the browser site and the dashboard files: percent-encodings (finding 9)', () => {
  it('/site/%25 and friends answer 404 not_found (the router decodes once; nothing decodes twice)', async () => {
    const siteDir = tempDir();
    writeFileSync(join(siteDir, 'index.html'), '<p>site</p>');
    mkdirSync(join(siteDir, 'a%b'));
    writeFileSync(join(siteDir, 'a%b', 'x.txt'), 'percent');
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, siteDir, apiRateLimit: false });
    try {
      for (const url of ['/site/%25', '/site/%2525', '/site/%25E0%25A4%25A', '/site/..%2F..%2Fetc%2Fpasswd', '/site/%00', '/dashboard/%25', '/dashboard/%2e%2e/%2e%2e/package.json', `/site/${'%25'.repeat(3000)}`]) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(404);
        expect(res.json().error.code, url).toBe('not_found');
        expect(res.json().error.message.length, url).toBeLessThan(400);
      }
      const malformed = await app.inject({ method: 'GET', url: '/site/%E0%A4%A' });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.code).toBe('malformed_payload');
      expect((await app.inject({ method: 'GET', url: '/site/a%25b/x.txt' })).body).toBe('percent');
      expect((await app.inject({ method: 'GET', url: '/site/' })).body).toContain('site');
    } finally {
      await app.close();
    }
  });
});

describe('rate limit on the routed path (finding 6)', () => {
  it('/%61pi/... counts against /api/, and /metrics and /docs/json are limited too', async () => {
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: { ratePerSecond: 0.5, burst: 3 } });
    try {
      const get = (url: string) => app.inject({ method: 'GET', url, remoteAddress: '10.9.9.9' });
      // Spelled with an escape, the route is /api/health all the same, and so is the bucket.
      const spelled = [];
      for (let i = 0; i < 4; i++) spelled.push((await get(i % 2 ? '/%61pi/health' : '/api/health')).statusCode);
      expect(spelled).toEqual([200, 200, 200, 429]);
      const limited = await get('/%61pi/runs');
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error.code).toBe('rate_limited');
      expect(limited.headers['retry-after']).toMatch(/^\d+$/);
      for (const url of ['/metrics', '/docs/json']) {
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await get(url)).statusCode);
        expect(statuses, url).toEqual([200, 200, 200, 429]);
      }
    } finally {
      await app.close();
    }
  });
});
