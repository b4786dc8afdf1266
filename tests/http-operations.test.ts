import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadModelDir, pretrainedModelDir, RunDatabase, runFromReport, startCoordinator, type CoordinatorApp, type RunControl, type RunningCoordinator } from '@fedtune/coordinator';
import { deriveSeed, REPORT_SCHEMA_VERSION, siteName, SiteClient, socketIoConnector, splitDataset, type RoundRecord, type RunReport } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from './helpers/federation.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

const round = (n: number, extra: Partial<RoundRecord> = {}): RoundRecord => ({
  round: n,
  durationMs: 100 * n,
  attempts: 1,
  selected: ['site-a', 'site-b', 'site-c'],
  accepted: [{ siteId: 'site-a', numExamples: 10, loss: 1, accuracy: 0.5, durationMs: 50 }],
  rejected: [{ siteId: 'site-b', code: 'non_finite', reason: 'NaN in layer 0' }],
  failed: [{ siteId: 'site-c', reason: 'left' }],
  bytesDown: 300,
  bytesUp: 100,
  global: { accuracy: 0.6 + n / 100, loss: 1 - n / 10 },
  modelDir: `models/round-${n}`,
  ...extra,
});

const privacy = { epsilon: 1.5, delta: 1e-5, noiseMultiplier: 1, clip: 1, nextClip: 1, samplingRate: 1, clippedShare: 0.5, steps: 2 };

const report: RunReport = {
  schemaVersion: REPORT_SCHEMA_VERSION,
  runId: 'run-b',
  status: 'complete',
  startedAt: '2026-11-25T00:00:00.000Z',
  updatedAt: '2026-11-25T00:01:00.000Z',
  config: { rounds: 2 },
  backend: 'wasm',
  model: { architecture: 'mlp', parameters: 3 },
  rounds: [round(1), round(2, { privacy, cooling: { count: 1, sites: ['site-d'] }, busy: { count: 2, sites: ['site-e', 'site-f'] } })],
  final: { accuracy: 0.62, loss: 0.8, modelDir: 'models/round-2', round: 2 },
};

function writeRun(runsDir: string): void {
  for (const n of [1, 2]) {
    const dir = join(runsDir, 'run-b', 'models', `round-${n}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', round: n }));
    writeFileSync(join(dir, 'weights.bin'), Buffer.from([n, n, n]));
  }
  writeFileSync(join(runsDir, 'run-b', 'report.json'), JSON.stringify(report));
  writeFileSync(join(runsDir, 'run-b', 'secret.txt'), 'not served');
}

describe('operations API (app.inject)', () => {
  const runsDir = tempDir();
  let c: CoordinatorApp;
  let db: RunDatabase;
  let state: 'running' | 'complete' = 'running';
  const stops: string[] = [];
  const control: RunControl = {
    runId: 'live-run',
    sites: () => [{ siteId: 'site-x', status: 'connected', activity: 'training', backend: 'wasm', runtime: 'node', numExamples: 5, joinedAt: '2026-11-25T00:00:00.000Z', lastSeen: '2026-11-25T00:00:01.000Z' }],
    stop: () => {
      stops.push('stop');
      return state === 'complete' ? { status: 'finished', runStatus: 'complete' } : { status: 'stopping' };
    },
  };

  beforeAll(async () => {
    writeRun(runsDir);
    db = new RunDatabase(join(runsDir, 'fedtune.db'));
    db.upsertRun(runFromReport(report));
    db.upsertRun(runFromReport({ ...report, runId: 'live-run', status: 'running', rounds: [], final: undefined }));
    db.upsertSite('run-b', { siteId: 'site-a', status: 'disconnected', backend: 'wasm', runtime: 'node', numExamples: 10, reason: 'run complete' });
    db.upsertSite('run-b', { siteId: 'site-b', status: 'connected', backend: 'cpu', runtime: 'browser', numExamples: 20 });
    db.upsertSite('live-run', { siteId: 'site-gone', status: 'connected', backend: 'wasm', runtime: 'node', numExamples: 3 });
    c = buildApp({ runsDir, maxMessageBytes: 1024 * 1024, control, database: db, apiRateLimit: false });
    await c.app.ready();
  });
  afterAll(async () => {
    await c?.app.close();
    db?.close();
  });

  it('serves an OpenAPI 3 document at /docs/json listing every /api route with schemas, and a UI at /docs', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBeTypeOf('string');
    const paths = Object.keys(doc.paths);
    for (const p of ['/api/health', '/api/runs', '/api/runs/{id}/start', '/api/runs/{id}', '/api/runs/{id}/rounds', '/api/runs/{id}/rounds/{round}/model/{file}', '/api/runs/{id}/sites', '/api/runs/{id}/stop', '/api/live', '/metrics']) {
      expect(paths, p).toContain(p);
    }
    // The dashboard is not part of the API.
    expect(paths.filter((p) => !p.startsWith('/api/') && p !== '/metrics')).toEqual([]);
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown>; parameters?: Array<{ name: string; in: string }> }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        // POST /api/runs creates (201); the other POSTs start or stop asynchronously (202); GETs answer 200.
        const success = method === 'get' ? ['200'] : path === '/api/runs' ? ['201'] : ['202'];
        expect(Object.keys(op.responses).filter((s) => success.includes(s)), `${method} ${path}`).toHaveLength(1);
        if (path.startsWith('/api/')) expect(op.responses['429'], `${method} ${path}`).toBeDefined();
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          expect(op.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name), `${method} ${path} ${name}`).toBe(true);
        }
      }
    }
    expect(doc.paths['/api/runs/{id}/stop'].post.responses['409']).toBeDefined();
    const ui = await c.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('GET /api/runs/:id/rounds summarises every round with counts, metrics and privacy', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/api/runs/run-b/rounds' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.runId).toBe('run-b');
    expect(body.rounds).toHaveLength(2);
    expect(body.rounds[0]).toEqual({
      round: 1,
      durationMs: 100,
      attempts: 1,
      selected: 3,
      accepted: 1,
      rejected: 1,
      failed: 1,
      cooling: 0,
      busy: 0,
      rejectedByCode: { non_finite: 1 },
      bytesDown: 300,
      bytesUp: 100,
      global: { accuracy: 0.61, loss: 0.9 },
      modelDir: 'models/round-1',
    });
    expect(body.rounds[1].privacy).toMatchObject({ epsilon: 1.5, delta: 1e-5, steps: 2 });
    expect([body.rounds[1].cooling, body.rounds[1].busy]).toEqual([1, 2]);
    // Counts only: no per-site reasons leak through the listing.
    expect(res.body).not.toContain('NaN in layer 0');
    expect(res.body).not.toContain('site-e');
  });

  it('serves the model of any saved round, and typed 404s for missing rounds, other files and traversal', async () => {
    for (const n of [1, 2]) {
      const json = await c.app.inject({ method: 'GET', url: `/api/runs/run-b/rounds/${n}/model/model.json` });
      expect(json.statusCode).toBe(200);
      expect(json.headers['content-type']).toMatch(/application\/json/);
      expect(json.json()).toEqual({ format: 'layers-model', round: n });
      const bin = await c.app.inject({ method: 'GET', url: `/api/runs/run-b/rounds/${n}/model/weights.bin` });
      expect(bin.headers['content-type']).toMatch(/application\/octet-stream/);
      expect([...bin.rawPayload]).toEqual([n, n, n]);
    }
    for (const url of [
      '/api/runs/run-b/rounds/99/model/model.json',
      '/api/runs/nope/rounds/1/model/model.json',
      '/api/runs/run-b/rounds/1/model/secret.txt',
      '/api/runs/run-b/rounds/1/model/..%2F..%2Fsecret.txt',
      '/api/runs/run-b/rounds/1/model/..%2F..%2Freport.json',
      '/api/runs/..%2Frun-b/rounds/1/model/model.json',
      '/api/runs/run-b/rounds/1/model/..',
      '/api/runs/nope/rounds',
      '/api/runs/nope/sites',
    ]) {
      const res = await c.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('not_found');
      expect(res.json().error.message, url).toBeTypeOf('string');
      expect(res.body, url).not.toContain('not served');
    }
    const bad = await c.app.inject({ method: 'GET', url: '/api/runs/run-b/rounds/abc/model/model.json' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('config');
  });

  it('GET /api/runs/:id/sites: database rows for other runs, live sites (plus departed ones) for the driven run', async () => {
    const past = await c.app.inject({ method: 'GET', url: '/api/runs/run-b/sites' });
    expect(past.statusCode).toBe(200);
    expect(past.json()).toMatchObject({
      runId: 'run-b',
      source: 'database',
      sites: [
        { siteId: 'site-a', status: 'disconnected', backend: 'wasm', runtime: 'node', numExamples: 10, leftReason: 'run complete' },
        { siteId: 'site-b', status: 'connected', backend: 'cpu', runtime: 'browser', numExamples: 20 },
      ],
    });
    const live = await c.app.inject({ method: 'GET', url: '/api/runs/live-run/sites' });
    expect(live.json()).toMatchObject({
      runId: 'live-run',
      source: 'live',
      sites: [
        { siteId: 'site-gone', status: 'disconnected' },
        { siteId: 'site-x', status: 'connected', activity: 'training', numExamples: 5 },
      ],
    });
  });

  it('POST /api/runs/:id/stop: 202 for the driven run, typed 404 for others, 409 once it has ended', async () => {
    const ok = await c.app.inject({ method: 'POST', url: '/api/runs/live-run/stop' });
    expect(ok.statusCode).toBe(202);
    expect(ok.json()).toEqual({ runId: 'live-run', status: 'stopping' });
    const other = await c.app.inject({ method: 'POST', url: '/api/runs/run-b/stop' });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('not_found');
    state = 'complete';
    const late = await c.app.inject({ method: 'POST', url: '/api/runs/live-run/stop' });
    expect(late.statusCode).toBe(409);
    expect(late.json().error).toMatchObject({ code: 'run_finished' });
    expect(stops).toHaveLength(2);
  });
});

describe('a real run: per-round models, live sites, stop over HTTP, JSON log file', () => {
  let coordinator: RunningCoordinator;
  let finalReport: RunReport;
  let logFile: string;
  let sitesDuringRun: { source: string; sites: Array<{ siteId: string; status: string }> } | undefined;

  let stopStatus: number | undefined;

  beforeAll(async () => {
    const runsDir = tempDir();
    logFile = join(runsDir, 'logs', 'coordinator.jsonl');
    const backend = await selectNodeBackend();
    const seed = 7;
    coordinator = await startCoordinator({
      runsDir,
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 60),
      backend: backend.backend,
      transport: 'socket',
      logFile,
      apiRateLimit: false,
      config: { runId: 'ops-run', rounds: 5, minSites: 2, seed, roundTimeoutMs: 30_000, joinTimeoutMs: 30_000, robustness: { when: 'never' }, federatedEvaluation: 'never' },
      onEvent: (e) => {
        // Ask to stop as soon as round 1 ends: round 2 is under way when the request lands, so the run stops after round 2.
        if (e.type !== 'round-end' || e.record.round !== 1) return;
        void (async () => {
          const app = coordinator.app!.app;
          sitesDuringRun = (await app.inject({ method: 'GET', url: '/api/runs/ops-run/sites' })).json();
          stopStatus = (await app.inject({ method: 'POST', url: '/api/runs/ops-run/stop' })).statusCode;
        })();
      },
    });
    const datasets = builtinDigitsSites({ sites: 2, partition: { kind: 'dirichlet', alpha: 1 }, seed });
    const siteRuns = datasets.map((full, k) => {
      const siteId = siteName(k);
      return new SiteClient({
        policy: testSitePolicy(),
        siteId,
        connector: socketIoConnector({ url: coordinator.url! }),
        data: splitDataset(head(full, 40), deriveSeed(seed, 'split', siteId)),
        backend: backend.backend,
        runtime: 'node',
      }).run();
    });
    finalReport = await coordinator.done;
    await Promise.allSettled(siteRuns);
  }, 60_000);
  afterAll(async () => {
    await coordinator?.close();
  });

  it('ends early with status aborted and reason stopped, after the round in progress', () => {
    expect(stopStatus).toBe(202);
    expect(finalReport.status).toBe('aborted');
    expect(finalReport.aborted).toBe('stopped');
    expect(finalReport.rounds.map((r) => r.round)).toEqual([1, 2]);
  });

  it('listed both sites, live, while the run was going', () => {
    expect(sitesDuringRun?.source).toBe('live');
    expect(sitesDuringRun?.sites.map((s) => [s.siteId, s.status])).toEqual([
      ['site-1', 'connected'],
      ['site-2', 'connected'],
    ]);
  });

  it('serves the global model of rounds 1 and 2, and a typed 404 for round 99', async () => {
    const app = coordinator.app!.app;
    const sizes: number[] = [];
    for (const n of [1, 2]) {
      const json = await app.inject({ method: 'GET', url: `/api/runs/ops-run/rounds/${n}/model/model.json` });
      expect(json.statusCode).toBe(200);
      expect(json.json().weightsManifest).toBeDefined();
      const bin = await app.inject({ method: 'GET', url: `/api/runs/ops-run/rounds/${n}/model/weights.bin` });
      expect(bin.statusCode).toBe(200);
      sizes.push(bin.rawPayload.length);
    }
    expect(sizes[0]).toBeGreaterThan(0);
    expect(sizes[1]).toBe(sizes[0]);
    const missing = await app.inject({ method: 'GET', url: '/api/runs/ops-run/rounds/99/model/weights.bin' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
    const rounds = (await app.inject({ method: 'GET', url: '/api/runs/ops-run/rounds' })).json();
    expect(rounds.rounds.map((r: { round: number; accepted: number }) => [r.round, r.accepted])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    const late = await app.inject({ method: 'POST', url: '/api/runs/ops-run/stop' });
    expect(late.statusCode).toBe(409);
    const sites = (await app.inject({ method: 'GET', url: '/api/runs/ops-run/sites' })).json();
    expect(sites.sites.map((s: { siteId: string }) => s.siteId)).toEqual(['site-1', 'site-2']);
  });

  it('wrote JSON lines for requests and round events, without any data', () => {
    const text = readFileSync(logFile, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = lines.map((l) => l.event).filter(Boolean);
    expect(events).toEqual(expect.arrayContaining(['site_joined', 'round_start', 'round_end', 'stop_requested', 'run_end']));
    expect(lines.filter((l) => l.event === 'round_end').map((l) => l.round)).toEqual([1, 2]);
    expect(lines.find((l) => l.event === 'run_end')).toMatchObject({ status: 'aborted', aborted: 'stopped', runId: 'ops-run' });
    expect(lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/api/runs/ops-run/stop')).toBe(true);
    for (const l of lines) expect(typeof l.time === 'string' && typeof l.level === 'number' && typeof l.msg === 'string').toBe(true);
    // No weights, pixels or arrays of numbers: the longest numeric array in any line is the site list.
    expect(text).not.toMatch(/\[(-?\d+(\.\d+)?,){8,}/);
    expect(text.length / lines.length).toBeLessThan(1000);
  });
});
