import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { describeHttpError } from '../../coordinator/src/http/http-error.ts';
import { lazySchemaCompilers } from '../../coordinator/src/http/lazy-schema-compilers.ts';
import { registerOperationsRoutes, runLifecycleErrorStatus, type OperationsRoutesOptions } from '../../coordinator/src/http/operations-routes.ts';
import { mergeSites, summarizeRound, type RunControl, type RunLauncher, type SiteView } from '../../coordinator/src/http/run-control.ts';
import { DASHBOARD_CSP, defaultPageCsp, DOCS_CSP, PAGE_CSP, RAW_SECURITY_HEADERS, registerSecurityHeaders } from '../../coordinator/src/http/security-headers.ts';
import { createFileLogger, logEngineEvent, REDACTED, redactUrl, requestForLog } from '../../coordinator/src/http/structured-log.ts';
import { errorResponses } from '../../coordinator/src/http/api-schemas.ts';
import { RunStore } from '../../coordinator/src/run/run-store.ts';
import type { AdminGuard } from '../../coordinator/src/access/admin-guard.ts';
import type { EngineEvent } from '../../coordinator/src/engine/engine-types.ts';
import { FedtuneError } from '../../shared/src/errors.ts';
import type { RoundRecord, RunReport } from '../../shared/src/index.ts';
import { chainAuditEntry, GENESIS_PREV } from '../../shared/src/audit/audit-entry.ts';

// The coordinator's admin and operations HTTP surface on a bare fastify app (build-app.ts's error handler, schema
// compilers and security headers), no coordinator: the routes' statuses and typed codes, what a schema refuses,
// the headers, and what the request and engine logs write (redacted, one line, bounded).

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const tmp = () => mkdtempSync(join(tmpdir(), 'fedtune-http-routes-'));

const round = (n: number, extra: Partial<RoundRecord> = {}): RoundRecord => ({
  round: n,
  durationMs: 100 * n,
  attempts: 1,
  selected: ['site-a', 'site-b', 'site-c', 'site-d'],
  accepted: [{ siteId: 'site-a', numExamples: 10, loss: 1, accuracy: 0.5, durationMs: 50 }],
  rejected: [
    { siteId: 'site-b', code: 'non_finite', reason: 'NaN in layer 0' },
    { siteId: 'site-d', code: 'non_finite', reason: 'Inf' },
    { siteId: 'site-e', code: 'norm', reason: 'too large' },
  ],
  failed: [{ siteId: 'site-c', reason: 'left' }],
  bytesDown: 300,
  bytesUp: 100,
  global: { accuracy: 0.5 + n / 10, loss: 1 - n / 10 },
  modelDir: `models/round-${n}`,
  ...extra,
});

const robustness = {
  clean: { accuracy: 0.9, loss: 0.3 },
  corruptionMean: 0.7,
  worstCorruption: { name: 'noise', accuracy: 0.6 },
  fgsm: [{ eps: 0.1, accuracy: 0.5 }],
  pgd: [{ eps: 0.1, steps: 10, accuracy: 0.4, stepSize: 0.01, restarts: 2 }],
  warnings: ['a', 'b', 'c'],
};
const privacy = { epsilon: 1.5, delta: 1e-5, noiseMultiplier: 1, clip: 1, nextClip: 1, samplingRate: 1, clippedShare: 0.5, steps: 2 };
const federated = { accuracy: 0.8, mean: 0.75, p10: 0.6, worstSite: { siteId: 'site-a', accuracy: 0.6 }, perSite: [{ siteId: 'site-a', accuracy: 0.6 }] };

const rounds: RoundRecord[] = [
  round(1),
  round(2, { rejectedNotListed: 5, cooling: { count: 1, sites: ['site-x'] }, busy: { count: 2, sites: ['site-y', 'site-z'] }, privacy, federated, robustness } as unknown as Partial<RoundRecord>),
];

/** What GET /api/runs/:id/rounds shows of those rounds: counts, metrics, no site names. */
const summaries = [
  { round: 1, durationMs: 100, attempts: 1, selected: 4, accepted: 1, rejected: 3, failed: 1, cooling: 0, busy: 0, rejectedByCode: { non_finite: 2, norm: 1 }, bytesDown: 300, bytesUp: 100, global: { accuracy: 0.6, loss: 0.9 }, modelDir: 'models/round-1' },
  {
    round: 2,
    durationMs: 200,
    attempts: 1,
    selected: 4,
    accepted: 1,
    rejected: 8,
    failed: 1,
    cooling: 1,
    busy: 2,
    rejectedByCode: { non_finite: 2, norm: 1 },
    bytesDown: 300,
    bytesUp: 100,
    global: { accuracy: 0.7, loss: 0.8 },
    federated: { accuracy: 0.8, mean: 0.75, p10: 0.6, worstSite: { siteId: 'site-a', accuracy: 0.6 } },
    privacy: { epsilon: 1.5, delta: 1e-5, noiseMultiplier: 1, clip: 1, samplingRate: 1, clippedShare: 0.5, steps: 2 },
    robustness: { cleanAccuracy: 0.9, corruptionMean: 0.7, worstCorruption: { name: 'noise', accuracy: 0.6 }, fgsm: [{ eps: 0.1, accuracy: 0.5 }], pgd: [{ eps: 0.1, steps: 10, accuracy: 0.4 }], warnings: 3 },
    modelDir: 'models/round-2',
  },
];

const AUDIT_A = chainAuditEntry(0, GENESIS_PREV, 'join', { siteId: 'site-a', numExamples: 5 }, 't');
const AUDIT_B = chainAuditEntry(1, AUDIT_A.hash, 'join', { siteId: 'site-b', numExamples: 7 }, 't');
const AUDIT_TEXT = `${JSON.stringify(AUDIT_A)}\n${JSON.stringify(AUDIT_B)}\n`;
/** What site-a reads with its site token: its own join whole, site-b's redacted. */
const AUDIT_SITE_A = `${JSON.stringify(AUDIT_A)}\n${JSON.stringify({ seq: 1, at: 't', type: 'join', redacted: {}, prev: AUDIT_A.hash, hash: AUDIT_B.hash })}\n`;

/** runs/run-b: a report with two rounds, their models, an audit log; runs/run-c: a report and nothing else. */
function writeRuns(): string {
  const runsDir = tmp();
  for (const n of [1, 2]) {
    const dir = join(runsDir, 'run-b', 'models', `round-${n}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', round: n }));
    writeFileSync(join(dir, 'weights.bin'), Buffer.from([n, n, n]));
  }
  const report = { runId: 'run-b', status: 'complete', startedAt: '2026-11-25T00:00:00.000Z', config: {}, rounds } as unknown as RunReport;
  writeFileSync(join(runsDir, 'run-b', 'report.json'), JSON.stringify(report));
  writeFileSync(join(runsDir, 'run-b', 'audit.jsonl'), AUDIT_TEXT);
  writeFileSync(join(runsDir, 'run-b', 'secret.txt'), 'not served');
  mkdirSync(join(runsDir, 'run-c'));
  writeFileSync(join(runsDir, 'run-c', 'report.json'), JSON.stringify({ ...report, runId: 'run-c', rounds: [] }));
  return runsDir;
}
const runsDir = writeRuns();

interface Built {
  app: FastifyInstance;
  /** `METHOD url` of every route declared part of the control plane (`config: { admin: true }`). */
  adminRoutes: string[];
}

/** The operations routes on a bare app with build-app.ts's error handler, schema compilers and security headers. */
function operationsApp(options: Partial<OperationsRoutesOptions> = {}): Built {
  const app = Fastify({ logger: false, schemaController: { compilersFactory: lazySchemaCompilers() } }) as unknown as FastifyInstance;
  app.setErrorHandler((err: unknown, _request, reply) => {
    const { status, code, message } = describeHttpError(err);
    void reply.status(status).send({ error: { code, message } });
  });
  registerSecurityHeaders(app);
  const adminRoutes: string[] = [];
  app.addHook('onRoute', (route) => {
    if (route.config?.admin === true) adminRoutes.push(`${String(route.method)} ${route.url}`);
  });
  registerOperationsRoutes(app, { store: new RunStore(runsDir), ...options });
  apps.push(app);
  return { app, adminRoutes };
}

const error = (code: string, message: string) => ({ error: { code, message } });

describe('the run lifecycle codes and the error responses every /api route declares', () => {
  it('run_exists, run_active, run_started and runs_fixed are all 409', () => {
    expect(runLifecycleErrorStatus).toEqual({ run_exists: 409, run_active: 409, run_started: 409, runs_fixed: 409 });
  });

  it('errorResponses: 400, 429 and 500 always, plus each status asked for, all with the typed error body', () => {
    const base = errorResponses();
    expect(Object.keys(base).sort()).toEqual(['400', '429', '500']);
    expect(Object.keys(errorResponses(404, 409)).sort()).toEqual(['400', '404', '409', '429', '500']);
    expect(Object.keys(errorResponses(409)).sort()).toEqual(['400', '409', '429', '500']);
    const body = errorResponses(404)[404];
    expect(body).toBe(base[500]);
    expect(body.required).toEqual(['error']);
    expect(body.properties.error.required).toEqual(['code', 'message']);
  });

  it('the control plane: listing rounds and sites, creating, starting and stopping runs; not the audit log or model files', () => {
    const { adminRoutes } = operationsApp();
    expect([...new Set(adminRoutes)].sort()).toEqual([
      'GET /api/runs/:id/rounds',
      'GET /api/runs/:id/sites',
      'HEAD /api/runs/:id/rounds',
      'HEAD /api/runs/:id/sites',
      'POST /api/runs',
      'POST /api/runs/:id/start',
      'POST /api/runs/:id/stop',
    ]);
  });
});

describe('GET /api/runs/:id/rounds and the round model files', () => {
  it("summarises every round: counts for site lists, rejections by code, DP and robustness in brief, no site's data", async () => {
    const { app } = operationsApp();
    const res = await app.inject({ url: '/api/runs/run-b/rounds' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ runId: 'run-b', rounds: summaries });
    expect(res.body).not.toContain('perSite');
    expect(res.body).not.toContain('nextClip');
    expect(res.body).not.toContain('stepSize');
    expect((await app.inject({ url: '/api/runs/run-c/rounds' })).json()).toEqual({ runId: 'run-c', rounds: [] });
  });

  it('an unknown or malformed run id: typed 404, never 400', async () => {
    const { app } = operationsApp();
    const unknown = await app.inject({ url: '/api/runs/nope/rounds' });
    expect([unknown.statusCode, unknown.json()]).toEqual([404, error('not_found', 'run nope not found')]);
    const malformed = await app.inject({ url: '/api/runs/a%20b/rounds' });
    expect([malformed.statusCode, malformed.json()]).toEqual([404, error('not_found', 'invalid run id "a b"')]);
  });

  it('serves model.json as JSON and weights.bin as bytes, for a completed round', async () => {
    const { app } = operationsApp();
    const model = await app.inject({ url: '/api/runs/run-b/rounds/2/model/model.json' });
    expect([model.statusCode, model.headers['content-type'], model.json()]).toEqual([200, 'application/json', { format: 'layers-model', round: 2 }]);
    const weights = await app.inject({ url: '/api/runs/run-b/rounds/1/model/weights.bin' });
    expect([weights.statusCode, weights.headers['content-type'], [...weights.rawPayload]]).toEqual([200, 'application/octet-stream', [1, 1, 1]]);
  });

  it.each([
    ['0', 400],
    ['-1', 400],
    ['1.5', 400],
    ['x', 400],
    ['3', 404],
  ])('round %s: %i (an integer from 1; past the last round: 404)', async (n, status) => {
    const { app } = operationsApp();
    const res = await app.inject({ url: `/api/runs/run-b/rounds/${n}/model/model.json` });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(status === 400 ? 'config' : 'not_found');
  });

  it('any other file, or one of an unknown run: 404', async () => {
    const { app } = operationsApp();
    for (const url of ['/api/runs/run-b/rounds/1/model/secret.txt', '/api/runs/run-b/rounds/1/model/..%2F..%2Fsecret.txt', '/api/runs/nope/rounds/1/model/model.json']) {
      const res = await app.inject({ url });
      expect([url, res.statusCode, res.json().error.code]).toEqual([url, 404, 'not_found']);
    }
  });
});

describe('GET /api/runs/:id/audit (and /api/v1/…)', () => {
  const guard: AdminGuard = { check: (authorization) => (authorization === 'Bearer ADMIN' ? { ok: true } : { ok: false, message: 'admin token needed' }) } as AdminGuard;
  const siteTokens = { verify: (name: string, token: string | undefined) => (name === 'site-a' && token === 'SITE-A' ? { ok: true } : { ok: false, reason: 'bad token' }) } as never;

  it('where the control plane is open: anyone reads the log, as JSON lines, at both paths', async () => {
    const { app } = operationsApp();
    for (const url of ['/api/runs/run-b/audit', '/api/v1/runs/run-b/audit']) {
      const res = await app.inject({ url });
      expect([url, res.statusCode, res.headers['content-type'], res.body]).toEqual([url, 200, 'application/x-ndjson', AUDIT_TEXT]);
    }
  });

  it('a run with no audit log, or no run: 404 not_found naming it', async () => {
    const { app } = operationsApp();
    const res = await app.inject({ url: '/api/v1/runs/run-c/audit' });
    expect([res.statusCode, res.json()]).toEqual([404, error('not_found', 'run run-c has no audit log')]);
    expect((await app.inject({ url: '/api/runs/nope/audit' })).statusCode).toBe(404);
  });

  it('with an admin guard: the admin token, or the site token of a site that joined the run; anything else 401', async () => {
    const { app } = operationsApp({ auditAccess: { admin: guard, siteTokens } });
    const get = (headers: Record<string, string | string[]>) => app.inject({ url: '/api/runs/run-b/audit', headers });
    expect((await get({ authorization: 'Bearer ADMIN' })).statusCode).toBe(200);
    expect((await get({ authorization: 'Bearer ADMIN' })).body).toBe(AUDIT_TEXT);
    // A site reads its copy: other sites' entries redacted.
    expect((await get({ authorization: 'Bearer SITE-A', 'x-fedtune-site': 'site-a' })).body).toBe(AUDIT_SITE_A);
    const refused = await get({});
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('unauthorized');
    expect((await get({ authorization: 'Bearer SITE-A' })).statusCode).toBe(401);
    expect((await get({ authorization: 'Bearer WRONG', 'x-fedtune-site': 'site-a' })).statusCode).toBe(401);
    // A site header sent twice is no site name.
    expect((await get({ authorization: 'Bearer SITE-A', 'x-fedtune-site': ['site-a', 'site-a'] })).statusCode).toBe(401);
    // Unauthorized before it says whether the run has a log.
    expect((await app.inject({ url: '/api/runs/nope/audit' })).statusCode).toBe(401);
  });

  it("a site's copy ends at the first line that is not a whole entry (a line being written, a broken log): nothing after it crosses", async () => {
    const { app } = operationsApp({ auditAccess: { admin: guard, siteTokens } });
    mkdirSync(join(runsDir, 'run-e'), { recursive: true });
    const path = join(runsDir, 'run-e', 'audit.jsonl');
    const later = chainAuditEntry(2, AUDIT_B.hash, 'leave', { siteId: 'site-a', reason: 'after' }, 't');
    const read = async () => (await app.inject({ url: '/api/runs/run-e/audit', headers: { authorization: 'Bearer SITE-A', 'x-fedtune-site': 'site-a' } })).body;
    for (const [what, broken] of [['cut short', JSON.stringify(AUDIT_B).slice(0, 50)], ['not an entry', JSON.stringify({ ...AUDIT_B, extra: 'site-b' })], ['empty', '']]) {
      writeFileSync(path, `${JSON.stringify(AUDIT_A)}\n${broken}\n${JSON.stringify(later)}\n`);
      expect([what, await read()]).toEqual([what, `${JSON.stringify(AUDIT_A)}\n`]);
    }
    // Characters of several bytes across the file's reads (64 KiB each) come through whole.
    const wide = chainAuditEntry(0, GENESIS_PREV, 'leave', { siteId: 'site-a', reason: 'é€😀'.repeat(30_000) }, 't');
    writeFileSync(path, `${JSON.stringify(wide)}\n`);
    expect(await read()).toBe(`${JSON.stringify(wide)}\n`);
    // Whole: to its end, whatever the site's name.
    writeFileSync(path, `${AUDIT_TEXT}${JSON.stringify(later)}\n`);
    expect(await read()).toBe(`${AUDIT_SITE_A}${JSON.stringify(later)}\n`);
    // The admin reads the file as it is.
    writeFileSync(path, `${JSON.stringify(AUDIT_A)}\nbroken\n`);
    expect((await app.inject({ url: '/api/runs/run-e/audit', headers: { authorization: 'Bearer ADMIN' } })).body).toBe(`${JSON.stringify(AUDIT_A)}\nbroken\n`);
  });

  it("a run's global models, latest and per round: the admin, or a site of the run with its token; anyone else 401 before a 404", async () => {
    const { app } = operationsApp({ auditAccess: { admin: guard, siteTokens } });
    const refused = "reading a run's model files needs the admin token, or the site token of a site of that run: send Authorization: Bearer TOKEN (and x-fedtune-site: NAME with a site token)";
    // run-f: a finished run whose latest model is round 1's.
    mkdirSync(join(runsDir, 'run-f', 'models', 'round-1'), { recursive: true });
    writeFileSync(join(runsDir, 'run-f', 'models', 'round-1', 'model.json'), '{"m":1}');
    writeFileSync(join(runsDir, 'run-f', 'models', 'round-1', 'weights.bin'), Buffer.from([1, 1, 1]));
    writeFileSync(join(runsDir, 'run-f', 'report.json'), JSON.stringify({ runId: 'run-f', status: 'complete', config: {}, rounds: [round(1)], final: { modelDir: 'models/round-1' } }));
    writeFileSync(join(runsDir, 'run-f', 'audit.jsonl'), AUDIT_TEXT);
    for (const url of ['/api/runs/run-f/model/weights.bin', '/api/runs/run-f/rounds/1/model/weights.bin', '/api/runs/run-f/model/model.json', '/api/runs/run-f/rounds/1/model/model.json']) {
      const get = (headers: Record<string, string>) => app.inject({ url, headers });
      const json = url.endsWith('.json');
      for (const headers of <Array<Record<string, string>>>[{ authorization: 'Bearer ADMIN' }, { authorization: 'Bearer SITE-A', 'x-fedtune-site': 'site-a' }]) {
        const res = await get(headers);
        expect([url, res.statusCode, res.headers['content-type'], json ? res.body : [...res.rawPayload]]).toEqual([url, 200, json ? 'application/json' : 'application/octet-stream', json ? '{"m":1}' : [1, 1, 1]]);
      }
      for (const headers of <Array<Record<string, string>>>[{}, { authorization: 'Bearer SITE-A' }, { authorization: 'Bearer WRONG', 'x-fedtune-site': 'site-a' }, { authorization: 'Bearer SITE-A', 'x-fedtune-site': 'site-b' }]) {
        const res = await get(headers);
        expect([url, res.statusCode, res.json()]).toEqual([url, 401, error('unauthorized', refused)]);
      }
    }
    // Whether a run or a round exists is not said before the token is.
    for (const url of ['/api/runs/nope/model/model.json', '/api/runs/run-b/rounds/9/model/model.json', '/api/runs/nope/rounds/1/model/model.json']) expect((await app.inject({ url })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/runs/run-b/rounds/9/model/model.json', headers: { authorization: 'Bearer ADMIN' } })).statusCode).toBe(404);
  });

  it('asks the index of joins it is given (one for the whole app), not the log', async () => {
    const asked: string[] = [];
    const joins = { joined: (_path: string, site: string) => (asked.push(site), site === 'site-b') } as never;
    const siteB = { verify: (name: string, token: string | undefined) => ({ ok: name === 'site-b' && token === 'SITE-B' }) } as never;
    const { app } = operationsApp({ auditAccess: { admin: guard, siteTokens: siteB, joins } });
    // site-b joined according to the index (not the file).
    const res = await app.inject({ url: '/api/v1/runs/run-b/audit', headers: { authorization: 'Bearer SITE-B', 'x-fedtune-site': 'site-b' } });
    expect([res.statusCode, asked]).toEqual([200, ['site-b']]);
  });
});

describe('GET /api/runs/:id/sites', () => {
  const live: SiteView[] = [
    { siteId: 'site-m', status: 'connected', activity: 'training', backend: 'wasm', runtime: 'node', numExamples: 5, joinedAt: '2026-11-25T00:00:00.000Z', lastSeen: '2026-11-25T00:00:01.000Z' },
    { siteId: 'site-b', status: 'connected', activity: 'idle', missedRounds: 2, lastSeen: '2026-11-25T00:00:02.000Z' },
  ];
  const rows = {
    'live-run': [
      { siteId: 'site-z', status: 'connected', lastSeen: '2026-11-24T00:00:00.000Z' },
      { siteId: 'site-m', status: 'connected', backend: 'cpu', lastSeen: '2026-11-24T00:00:00.000Z' },
      { siteId: 'site-a', status: 'disconnected', leftReason: 'left', lastSeen: '2026-11-24T00:00:00.000Z' },
    ],
    'run-b': [
      { siteId: 'site-c', status: 'connected', lastSeen: '2026-11-24T00:00:00.000Z' },
      { siteId: 'site-a', status: 'disconnected', numExamples: 10, lastSeen: '2026-11-24T00:00:00.000Z' },
    ],
  } as Record<string, SiteView[]>;
  const database = { listSites: (id: string) => rows[id] ?? [] };
  const control = (runId = 'live-run'): RunControl => ({ runId, sites: () => live, stop: () => ({ status: 'stopping' }) });

  it('the driven run: its live sites, and the recorded ones not live as disconnected (stale rows), sorted by id', async () => {
    const { app } = operationsApp({ control: control(), database });
    const res = await app.inject({ url: '/api/runs/live-run/sites' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      runId: 'live-run',
      source: 'live',
      sites: [
        { siteId: 'site-a', status: 'disconnected', leftReason: 'left', lastSeen: '2026-11-24T00:00:00.000Z' },
        live[1],
        live[0],
        { siteId: 'site-z', status: 'disconnected', lastSeen: '2026-11-24T00:00:00.000Z' },
      ],
    });
  });

  it('the driven run with no site joined yet is still live (and needs nothing on disk)', async () => {
    const { app } = operationsApp({ control: { runId: 'live-run', sites: () => [], stop: () => ({ status: 'stopping' }) } });
    expect((await app.inject({ url: '/api/runs/live-run/sites' })).json()).toEqual({ runId: 'live-run', source: 'live', sites: [] });
  });

  it('another run: the database rows as recorded; with no database, none', async () => {
    const fromDb = operationsApp({ control: control(), database }).app;
    expect((await fromDb.inject({ url: '/api/runs/run-b/sites' })).json()).toEqual({
      runId: 'run-b',
      source: 'database',
      sites: [
        { siteId: 'site-a', status: 'disconnected', numExamples: 10, lastSeen: '2026-11-24T00:00:00.000Z' },
        { siteId: 'site-c', status: 'connected', lastSeen: '2026-11-24T00:00:00.000Z' },
      ],
    });
    const bare = operationsApp().app;
    expect((await bare.inject({ url: '/api/runs/run-b/sites' })).json()).toEqual({ runId: 'run-b', source: 'none', sites: [] });
  });

  it('a run neither driven nor on disk: typed 404', async () => {
    const { app } = operationsApp({ control: control(), database });
    const res = await app.inject({ url: '/api/runs/other/sites' });
    expect([res.statusCode, res.json()]).toEqual([404, error('not_found', 'run other not found')]);
    expect((await operationsApp().app.inject({ url: '/api/runs/live-run/sites' })).statusCode).toBe(404);
  });
});

describe('GET /api/runs/:id/sites, a page at a time', () => {
  const row = (siteId: string, status: 'connected' | 'disconnected' = 'disconnected'): SiteView => ({ siteId, status, lastSeen: 't' });
  const ids = (body: { sites: SiteView[] }) => body.sites.map((s) => s.siteId);
  // The mock database honours the page as RunDatabase does (after, then limit, in id order).
  const history = (all: SiteView[]) => ({
    asked: [] as Array<{ after?: string; limit?: number }>,
    listSites(_id: string, page: { after?: string; limit?: number } = {}) {
      this.asked.push(page);
      return all.filter((s) => s.siteId > (page.after ?? '')).sort((a, b) => (a.siteId < b.siteId ? -1 : 1)).slice(0, page.limit ?? Infinity);
    },
  });
  const live: SiteView[] = [row('s-03', 'connected'), row('s-06', 'connected'), row('s-99', 'connected')];
  const recorded = ['s-01', 's-02', 's-03', 's-04', 's-05', 's-06', 's-07'].map((id) => row(id, 'connected'));
  const driven = (runId = 'live-run'): RunControl => ({ runId, sites: () => live, stop: () => ({ status: 'stopping' }) });

  it.each([1, 2, 3, 5, 8, 9, 1000])('limit %i: the pages, walked by next, are the whole merged list once, in order', async (limit) => {
    const { app } = operationsApp({ control: driven(), database: history(recorded) });
    const all = (await app.inject({ url: '/api/runs/live-run/sites' })).json();
    expect(ids(all)).toEqual(['s-01', 's-02', 's-03', 's-04', 's-05', 's-06', 's-07', 's-99']);
    const walked: string[] = [];
    let after = '';
    for (let pages = 0; pages < 20; pages++) {
      const body = (await app.inject({ url: `/api/runs/live-run/sites?limit=${limit}&after=${after}` })).json();
      expect(body.sites.length).toBe(Math.min(limit, 8 - walked.length));
      walked.push(...ids(body));
      if (body.next === undefined) break;
      expect(body.next).toBe(walked.at(-1));
      after = body.next;
    }
    expect(walked).toEqual(ids(all));
    // Live sites keep their live view; a recorded 'connected' row that is not live shows as gone.
    expect(all.sites.map((s: SiteView) => s.status)).toEqual(['disconnected', 'disconnected', 'connected', 'disconnected', 'disconnected', 'connected', 'disconnected', 'connected']);
  });

  it('a full page has next, the last page none; the database is asked for limit + 1 + the live count after the cursor', async () => {
    const db = history(recorded);
    const { app } = operationsApp({ control: driven(), database: db });
    const first = (await app.inject({ url: '/api/runs/live-run/sites?limit=4' })).json();
    expect([ids(first), first.next]).toEqual([['s-01', 's-02', 's-03', 's-04'], 's-04']);
    expect(db.asked.at(-1)).toEqual({ after: '', limit: 8 });
    const last = (await app.inject({ url: '/api/runs/live-run/sites?limit=4&after=s-04' })).json();
    expect([ids(last), 'next' in last]).toEqual([['s-05', 's-06', 's-07', 's-99'], false]);
    expect(db.asked.at(-1)).toEqual({ after: 's-04', limit: 8 });
    // Exactly limit sites left: no next.
    expect((await app.inject({ url: '/api/runs/live-run/sites?limit=3&after=s-05' })).json()).toEqual({
      runId: 'live-run', source: 'live', sites: [row('s-06', 'connected'), row('s-07'), row('s-99', 'connected')],
    });
    // Past the last id: empty, no next.
    expect((await app.inject({ url: '/api/runs/live-run/sites?after=s-999' })).json()).toEqual({ runId: 'live-run', source: 'live', sites: [] });
  });

  it('a run from the database pages the same way', async () => {
    const db = history(recorded);
    const { app } = operationsApp({ control: driven('other-run'), database: db });
    const body = (await app.inject({ url: '/api/runs/run-b/sites?limit=2&after=s-02' })).json();
    expect(body).toEqual({ runId: 'run-b', source: 'database', sites: [row('s-03', 'connected'), row('s-04', 'connected')], next: 's-04' });
    expect(db.asked.at(-1)).toEqual({ after: 's-02', limit: 3 });
  });

  it.each([
    ['limit=0', 'querystring/limit must be >= 1'],
    ['limit=1001', 'querystring/limit must be <= 1000'],
    ['limit=two', 'querystring/limit must be integer'],
    ['limit=1.5', 'querystring/limit must be integer'],
    ['after=a%20b', 'querystring/after must match pattern "^[A-Za-z0-9._-]*$"'],
    [`after=${'a'.repeat(129)}`, 'querystring/after must NOT have more than 128 characters'],
  ])('?%s: 400 naming the parameter', async (query, message) => {
    const { app } = operationsApp({ control: driven(), database: history(recorded) });
    const res = await app.inject({ url: `/api/runs/live-run/sites?${query}` });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain(message);
  });
});

describe('mergeSites', () => {
  const row = (siteId: string, status: 'connected' | 'disconnected' = 'connected') => ({ siteId, status, lastSeen: 't' });
  it('sorts by id whatever the order it was given (live and recorded alike)', () => {
    const ids = (s: SiteView[]) => s.map((x) => x.siteId);
    expect(ids(mergeSites(undefined, ['e', 'd', 'c', 'b', 'a', 'f'].map((id) => row(id))))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(ids(mergeSites([row('d'), row('b'), row('c')], [row('a'), row('e'), row('b')]))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids(mergeSites(undefined, ['a', 'c', 'b', 'e', 'd'].map((id) => row(id))))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps the live view of a site the database also has, and marks the others disconnected only when there is a live list', () => {
    expect(mergeSites([row('a')], [row('a', 'disconnected'), row('b')])).toEqual([row('a'), row('b', 'disconnected')]);
    expect(mergeSites(undefined, [row('b'), row('a', 'disconnected')])).toEqual([row('a', 'disconnected'), row('b')]);
    expect(mergeSites([], [row('a')])).toEqual([row('a', 'disconnected')]);
  });
});

describe('summarizeRound', () => {
  it('counts instead of lists, rejections by code, the unlisted ones added, cooling and busy 0 when absent', () => {
    expect(summarizeRound(rounds[0]!)).toEqual({ ...summaries[0], federated: undefined, privacy: undefined, robustness: undefined });
    expect(summarizeRound(rounds[1]!)).toEqual({ ...summaries[1], privacy });
  });
});

describe('POST /api/runs and POST /api/runs/:id/start', () => {
  function launcher(outcomes: { create?: (input: unknown) => ReturnType<RunLauncher['create']>; start?: RunLauncher['start'] }) {
    const created: unknown[] = [];
    const started: string[] = [];
    const runs: RunLauncher = {
      create: (input) => (created.push(input), outcomes.create ? outcomes.create(input) : { status: 'created', runId: 'gen-1' }),
      start: async (id) => (started.push(id), outcomes.start ? outcomes.start(id) : { status: 'started', runId: id }),
    };
    return { runs, created, started };
  }
  const control = (runs?: RunLauncher): RunControl => ({ runId: 'r0', sites: () => [], stop: () => ({ status: 'stopping' }), runs });
  const post = (app: FastifyInstance, url: string, payload?: unknown) => app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload: payload as object }) });

  it('creates: 201 with the id; the whole configuration reaches the launcher (extra fields kept)', async () => {
    const l = launcher({});
    const { app } = operationsApp({ control: control(l.runs) });
    const res = await post(app, '/api/runs', { rounds: 3, strategy: { name: 'fedavg' } });
    expect([res.statusCode, res.json()]).toEqual([201, { runId: 'gen-1', status: 'created' }]);
    expect(l.created).toEqual([{ rounds: 3, strategy: { name: 'fedavg' } }]);
    const named = await post(app, '/api/runs', { runId: 'mine', rounds: 2 });
    expect(named.statusCode).toBe(201);
    expect(l.created[1]).toEqual({ runId: 'mine', rounds: 2 });
  });

  it('a body that is no object: 400 before the launcher sees it', async () => {
    const l = launcher({});
    const { app } = operationsApp({ control: control(l.runs) });
    for (const payload of ['[1]', '"x"', '3']) {
      const res = await app.inject({ method: 'POST', url: '/api/runs', payload, headers: { 'content-type': 'application/json' } });
      expect([payload, res.statusCode]).toEqual([payload, 400]);
    }
    expect(l.created).toEqual([]);
  });

  it('an id that is taken: 409 run_exists; an invalid configuration: 400 config', async () => {
    const l = launcher({
      create: (input) => {
        if ((input as { rounds?: unknown }).rounds === 'x') throw new FedtuneError('config', 'rounds: expected a number');
        return { status: 'exists', runId: 'taken' };
      },
    });
    const { app } = operationsApp({ control: control(l.runs) });
    const exists = await post(app, '/api/runs', { runId: 'taken' });
    expect([exists.statusCode, exists.json()]).toEqual([409, error('run_exists', 'run taken already exists')]);
    const invalid = await post(app, '/api/runs', { rounds: 'x' });
    expect([invalid.statusCode, invalid.json()]).toEqual([400, error('config', 'rounds: expected a number')]);
  });

  it('starts: 202 starting; another run active, or this one started before: 409 with the code and what to do', async () => {
    const l = launcher({
      start: async (id) => (id === 'busy' ? { status: 'active', activeRunId: 'r0' } : id === 'old' ? { status: 'already_started', runStatus: 'aborted' } : id === 'gone' ? Promise.reject(new FedtuneError('not_found', 'run gone not found')) : { status: 'started', runId: id }),
    });
    const { app } = operationsApp({ control: control(l.runs) });
    const ok = await post(app, '/api/runs/r1/start');
    expect([ok.statusCode, ok.json()]).toEqual([202, { runId: 'r1', status: 'starting' }]);
    const busy = await post(app, '/api/runs/busy/start');
    expect([busy.statusCode, busy.json()]).toEqual([409, error('run_active', 'run r0 is active: stop it or wait until it ends')]);
    const old = await post(app, '/api/runs/old/start');
    expect([old.statusCode, old.json()]).toEqual([409, error('run_started', 'run old was already started (aborted); continue it with fedtune coordinator --resume old')]);
    const gone = await post(app, '/api/runs/gone/start');
    expect([gone.statusCode, gone.json()]).toEqual([404, error('not_found', 'run gone not found')]);
    expect(l.started).toEqual(['r1', 'busy', 'old', 'gone']);
  });

  it('a coordinator that drives one fixed run (no launcher, or no control at all): 409 runs_fixed for both', async () => {
    for (const options of [{ control: control() }, {}]) {
      const { app } = operationsApp(options);
      const created = await post(app, '/api/runs', { rounds: 1 });
      expect([created.statusCode, created.json()]).toEqual([409, error('runs_fixed', 'this coordinator drives one fixed run; start it with `fedtune coordinator --serve-only` to create runs over HTTP')]);
      const started = await post(app, '/api/runs/r1/start');
      expect([started.statusCode, started.json()]).toEqual([409, error('runs_fixed', 'this coordinator drives one fixed run; start it with `fedtune coordinator --serve-only` to start runs over HTTP')]);
    }
  });
});

describe('POST /api/runs/:id/stop', () => {
  it('the driven run: 202 stopping; once it has ended: 409 run_finished with its status', async () => {
    let ended = false;
    let stops = 0;
    const control: RunControl = { runId: 'live', sites: () => [], stop: () => (stops++, ended ? { status: 'finished', runStatus: 'complete' } : { status: 'stopping' }) };
    const { app } = operationsApp({ control });
    const res = await app.inject({ method: 'POST', url: '/api/runs/live/stop' });
    expect([res.statusCode, res.json()]).toEqual([202, { runId: 'live', status: 'stopping' }]);
    ended = true;
    const again = await app.inject({ method: 'POST', url: '/api/runs/live/stop' });
    expect([again.statusCode, again.json()]).toEqual([409, error('run_finished', 'run live already ended (complete)')]);
    expect(stops).toBe(2);
  });

  it('any other run, or no run driven: 404 not_found', async () => {
    const control: RunControl = { runId: 'live', sites: () => [], stop: () => ({ status: 'stopping' }) };
    for (const options of [{ control }, {}, { control: { ...control, runId: undefined } }]) {
      const { app } = operationsApp(options);
      const res = await app.inject({ method: 'POST', url: '/api/runs/other/stop' });
      expect([res.statusCode, res.json()]).toEqual([404, error('not_found', 'run other is not driven by this coordinator')]);
    }
  });
});

describe('security headers', () => {
  function pages(): FastifyInstance {
    const app = Fastify({ logger: false });
    registerSecurityHeaders(app);
    const html = (csp?: string) => async (_request: unknown, reply: { type(t: string): unknown; header(k: string, v: string): unknown }) => {
      reply.type('text/html; charset=utf-8');
      if (csp) reply.header('content-security-policy', csp);
      return '<!doctype html><title>x</title>';
    };
    app.get('/site/*', html());
    app.get('/docs', html());
    app.get('/docs/*', html());
    app.get('/docsite', html());
    app.get('/page', html());
    app.get('/own', html("default-src 'self'"));
    app.get('/json', async () => ({ ok: true }));
    app.get('/text', async (_request, reply) => reply.type('text/plain').send('<html>'));
    app.get('/empty', async (_request, reply) => reply.code(204).send());
    app.setNotFoundHandler(async (_request, reply) => reply.code(404).type('text/html').send('<p>no</p>'));
    apps.push(app);
    return app;
  }

  it('the policies, exactly', () => {
    expect(DASHBOARD_CSP).toBe("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(DOCS_CSP).toBe("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(PAGE_CSP).toBe("frame-ancestors 'none'; base-uri 'none'; object-src 'none'");
    expect(RAW_SECURITY_HEADERS).toEqual({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
  });

  const SITE = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  it.each([
    ['/site/*', '/site/', SITE],
    ['/site/*', '/site/?server=x', SITE],
    ['/site/*', '?server=http%3A%2F%2Fx.example', SITE.replace("connect-src 'self'", "connect-src 'self' http://x.example ws://x.example")],
    ['/site/*', '/site/?a=1&server=https%3A%2F%2Fc.example%3A8443', SITE.replace("connect-src 'self'", "connect-src 'self' https://c.example:8443 wss://c.example:8443")],
    ['/docs', '/docs?server=http%3A%2F%2Fx.example', DOCS_CSP],
    ['/docs/', '/docs/', DOCS_CSP],
    ['/docs/static/index.html', '/docs/static/index.html', DOCS_CSP],
    ['/docsite', '/docsite', PAGE_CSP],
    ['/', '/?server=http%3A%2F%2Fx.example', PAGE_CSP],
    ['', '/nowhere', PAGE_CSP],
    [undefined, '/nowhere?server=http%3A%2F%2Fx.example', PAGE_CSP],
  ])('defaultPageCsp(%s, %s)', (route, url, csp) => {
    expect(defaultPageCsp(route, url)).toBe(csp);
  });

  it.each([
    ['/site/index.html?server=http%3A%2F%2Fx.example', SITE.replace("connect-src 'self'", "connect-src 'self' http://x.example ws://x.example")],
    ['/docs', DOCS_CSP],
    ['/docs/index.html', DOCS_CSP],
    ['/docsite', PAGE_CSP],
    ['/page', PAGE_CSP],
    ['/own', "default-src 'self'"],
    ['/no-such-page', PAGE_CSP],
  ])('HTML %s: nosniff, DENY and its CSP', async (url, csp) => {
    const res = await pages().inject({ url });
    expect([res.headers['x-content-type-options'], res.headers['x-frame-options'], res.headers['content-security-policy']]).toEqual(['nosniff', 'DENY', csp]);
  });

  it.each(['/json', '/text', '/empty'])('%s (not HTML): nosniff and DENY, no CSP', async (url) => {
    const res = await pages().inject({ url });
    expect(res.statusCode).toBe(url === '/empty' ? 204 : 200);
    expect([res.headers['x-content-type-options'], res.headers['x-frame-options'], res.headers['content-security-policy']]).toEqual(['nosniff', 'DENY', undefined]);
  });

  it('on the operations routes too, errors included', async () => {
    const { app } = operationsApp();
    for (const url of ['/api/runs/run-b/rounds', '/api/runs/nope/rounds', '/api/runs/run-b/rounds/0/model/model.json']) {
      const res = await app.inject({ url });
      expect([url, res.headers['x-content-type-options'], res.headers['x-frame-options']]).toEqual([url, 'nosniff', 'DENY']);
    }
  });
});

describe('redactUrl and requestForLog', () => {
  it.each([
    ['/site/?server=https%3A%2F%2Fc.example&site=a&token=SECRET', '/site/?server=https%3A%2F%2Fc.example&site=a&token=[redacted]'],
    ['?token=S', '?token=[redacted]'],
    ['/x?token=', '/x?token=[redacted]'],
    ['/x?token', '/x?token'],
    ['/x?apikey', '/x?apikey'],
    ['/x?=token', '/x?=token'],
    ['/x?a=1&&b=2', '/x?a=1&&b=2'],
    ['/x?SECRET=1&Passwd=2&AUTH=3&Credentials=4&SIGNATURE=5&KEY=6&TOKEN=7', '/x?SECRET=[redacted]&Passwd=[redacted]&AUTH=[redacted]&Credentials=[redacted]&SIGNATURE=[redacted]&KEY=[redacted]&TOKEN=[redacted]'],
    ['/x?my_token_id=1&x-signature-v2=2', '/x?my_token_id=[redacted]&x-signature-v2=[redacted]'],
    ['/x?to%6Ben=S&a=1', '/x?to%6Ben=[redacted]&a=1'],
    ['/x?to+ken=S', '/x?to+ken=S'],
    ['/x?%E0%A4%A=1&token=S', '/x?%E0%A4%A=1&token=[redacted]'],
    ['/x?%E0%A4%Atoken=1', '/x?%E0%A4%Atoken=[redacted]'],
    ['/x?token=S#frag', '/x?token=[redacted]#frag'],
    ['/x?a=1#token=S', '/x?a=1#token=S'],
    ['/x?token=a=b&site=s=t', '/x?token=[redacted]&site=s=t'],
    ['/tokens/x', '/tokens/x'],
    // No query: a path that reads like one is kept.
    ['/token=abc', '/token=abc'],
    ['/x?tokens', '/x?tokens'],
  ])('redactUrl(%s) = %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
    expect(REDACTED).toBe('[redacted]');
  });

  it('the method, address and redacted URL; method and URL one line and clipped (16 and 300), redacted before clipping', () => {
    expect(requestForLog({ method: 'GET', url: '/a?token=S', ip: '10.0.0.1', socket: { remoteAddress: '10.0.0.2' } })).toEqual({ method: 'GET', url: '/a?token=[redacted]', remoteAddress: '10.0.0.1' });
    expect(requestForLog({ method: 'GET', url: '/a', socket: { remoteAddress: '10.0.0.2' } })).toEqual({ method: 'GET', url: '/a', remoteAddress: '10.0.0.2' });
    expect(requestForLog({ method: 'GET', url: '/a', ip: 7 })).toEqual({ method: 'GET', url: '/a' });
    expect(requestForLog({})).toEqual({ method: '', url: '' });
    expect(requestForLog({ method: 'M'.repeat(20), url: '/\n' + 'u'.repeat(400) }).method).toBe(`${'M'.repeat(16)}… (4 more characters)`);
    expect(requestForLog({ method: 'M'.repeat(16), url: '/' }).method).toBe('M'.repeat(16));
    const url = requestForLog({ method: 'GET', url: '/\n' + 'u'.repeat(400) }).url;
    expect(url).toBe(`/ ${'u'.repeat(298)}… (102 more characters)`);
    expect(requestForLog({ url: 'u'.repeat(300) }).url).toBe('u'.repeat(300));
    const long = requestForLog({ method: 'GET', url: `/site/?server=${'s'.repeat(280)}&token=${'T'.repeat(100)}` }).url;
    expect(long).not.toContain('T');
    expect(long.startsWith(`/site/?server=${'s'.repeat(280)}&tok`)).toBe(true);
  });
});

describe('createFileLogger', () => {
  it('appends JSON lines synchronously (in a directory it creates): service, bindings, ISO time, level info by default, requests as requestForLog', () => {
    const path = join(tmp(), 'a', 'b', 'coordinator.jsonl');
    const first = createFileLogger(path, { node: 'n1' });
    first.logger.info({ req: { method: 'GET', url: '/x?token=SECRET', ip: '1.2.3.4', headers: { authorization: 'Bearer SECRET' } } }, 'hello');
    first.logger.debug('not at info');
    const line = JSON.parse(readFileSync(path, 'utf8').trim()) as Record<string, unknown>;
    expect(line).toEqual({ level: 30, time: line.time, service: 'fedtune-coordinator', node: 'n1', req: { method: 'GET', url: '/x?token=[redacted]', remoteAddress: '1.2.3.4' }, msg: 'hello' });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    first.close();
    // Closed: nothing more reaches the file (pino's destination refuses the write).
    try {
      first.logger.info('after close');
    } catch {
      // SonicBoom destroyed
    }
    const second = createFileLogger(path, {}, 'debug');
    second.logger.debug('at debug');
    second.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.msg, l.service, l.node])).toEqual([
      [30, 'hello', 'fedtune-coordinator', 'n1'],
      [20, 'at debug', 'fedtune-coordinator', undefined],
    ]);
  });
});

describe('logEngineEvent: one line per event, identifiers, counts and metrics only, free text one line and clipped', () => {
  function logOf(events: EngineEvent[]): Array<Record<string, unknown>> {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug', base: undefined, timestamp: false }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    for (const e of events) logEngineEvent(log, e);
    return lines;
  }
  const long = `a\nb\u202e${'r'.repeat(400)}`;
  const clipped = `a b ${'r'.repeat(296)}… (104 more characters)`;

  it.each<[EngineEvent, Record<string, unknown>]>([
    [{ type: 'site-joined', siteId: 's1', backend: 'wasm', runtime: 'node', numExamples: 12 }, { level: 30, event: 'site_joined', siteId: 's1', backend: 'wasm', runtime: 'node', numExamples: 12, msg: 'site s1 joined' }],
    [{ type: 'site-refused', siteId: 's1', reason: long }, { level: 40, event: 'site_refused_terms', siteId: 's1', reason: clipped, msg: `site s1 refused the run's terms: ${clipped}` }],
    [{ type: 'site-left', siteId: 's1', reason: long }, { level: 30, event: 'site_left', siteId: 's1', reason: clipped, msg: 'site s1 left' }],
    [{ type: 'waiting', joined: 1, needed: 3 }, { level: 20, event: 'waiting', joined: 1, needed: 3, msg: 'waiting for sites: 1 of 3' }],
    [{ type: 'pretrained', accuracy: 0.5, loss: 1.5 }, { level: 30, event: 'pretrained', accuracy: 0.5, loss: 1.5, msg: 'starting model evaluated' }],
    [{ type: 'round-start', round: 4, attempt: 2, selected: ['a', 'b'] }, { level: 30, event: 'round_start', round: 4, attempt: 2, selected: 2, sites: ['a', 'b'], msg: 'round 4 started' }],
    [{ type: 'result', round: 4, siteId: 's1', accepted: true }, { level: 20, event: 'update_accepted', round: 4, siteId: 's1', msg: 'update from s1 accepted' }],
    [{ type: 'result', round: 4, siteId: 's1', accepted: false, code: 'norm', reason: long }, { level: 40, event: 'update_rejected', round: 4, siteId: 's1', code: 'norm', reason: clipped, msg: 'update from s1 rejected: norm' }],
    [{ type: 'result', round: 4, siteId: 's1', accepted: false, code: 'late' }, { level: 40, event: 'update_rejected', round: 4, siteId: 's1', code: 'late', msg: 'update from s1 rejected: late' }],
    [{ type: 'result-held', round: 4, siteId: 's1', reason: 'norm bound' }, { level: 20, event: 'update_held', round: 4, siteId: 's1', msg: 'update from s1 held until the round closes' }],
    [{ type: 'round-retry', round: 4, attempt: 3, reason: long }, { level: 40, event: 'round_retry', round: 4, attempt: 3, reason: clipped, msg: 'round 4 retried' }],
    [{ type: 'robustness-start', round: 4 }, { level: 30, event: 'robustness_start', round: 4, msg: 'robustness evaluation of round 4' }],
    [
      { type: 'connection-refused', connection: 'c9', siteId: 's1', refusals: 3, reason: long },
      { level: 40, event: 'connection_refused', connection: 'c9', siteId: 's1', refusals: 3, reason: clipped, msg: 'connection c9 closed after 3 refused message(s)' },
    ],
  ])('%j', (event, line) => {
    expect(logOf([event])).toEqual([line]);
  });

  it('round_end: the rounds listing summary flattened, with accuracy, loss and epsilon; no site lists, model dir or robustness', () => {
    const { global: _g, federated: _f, privacy: _p, robustness: _r, modelDir: _m, ...counts } = summaries[1]!;
    expect(logOf([{ type: 'round-end', record: rounds[1]! }])).toEqual([{ level: 30, event: 'round_end', ...counts, accuracy: 0.7, loss: 0.8, epsilon: 1.5, msg: 'round 2 done' }]);
    const { global: _g1, modelDir: _m1, ...counts1 } = summaries[0]!;
    expect(logOf([{ type: 'round-end', record: rounds[0]! }])).toEqual([{ level: 30, event: 'round_end', ...counts1, accuracy: 0.6, loss: 0.9, msg: 'round 1 done' }]);
  });

  it('run_end: info when complete, warn otherwise, with the abort reason one line and clipped', () => {
    const report = (extra: object) => ({ runId: 'r', status: 'complete', rounds: [round(1), round(2)], ...extra }) as unknown as RunReport;
    expect(logOf([{ type: 'complete', report: report({ final: { accuracy: 0.9, loss: 0.1, modelDir: 'm', round: 2 } }) }])).toEqual([{ level: 30, event: 'run_end', status: 'complete', rounds: 2, accuracy: 0.9, msg: 'run complete' }]);
    expect(logOf([{ type: 'complete', report: report({ status: 'aborted', aborted: long }) }])).toEqual([{ level: 40, event: 'run_end', status: 'aborted', rounds: 2, aborted: clipped, msg: 'run aborted' }]);
  });

  it('writes nothing for the events that are the audit log\'s (hashes, terms, refused hellos)', () => {
    expect(logOf([{ type: 'terms', sha256: 'ab' }, { type: 'hello-refused', siteId: 's', code: 'unauthorized', reason: 'x' }])).toEqual([]);
  });
});
