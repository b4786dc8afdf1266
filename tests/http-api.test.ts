import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type CoordinatorApp } from '@fedtune/coordinator';
import { REPORT_SCHEMA_VERSION, type RunReport } from '@fedtune/shared';
import { tempDir } from './helpers/federation.ts';

const runsDir = tempDir();
const report: RunReport = {
  schemaVersion: REPORT_SCHEMA_VERSION,
  runId: 'run-a',
  status: 'complete',
  startedAt: '2026-11-25T00:00:00.000Z',
  updatedAt: '2026-11-25T00:01:00.000Z',
  config: { rounds: 1 },
  backend: 'wasm',
  model: { architecture: 'mlp', parameters: 3 },
  pretrained: { accuracy: 0.5, loss: 1 },
  rounds: [],
  final: { accuracy: 0.8, loss: 0.5, modelDir: 'models/round-1', round: 1 },
};

describe('coordinator HTTP API (app.inject)', () => {
  let c: CoordinatorApp;
  beforeAll(async () => {
    mkdirSync(join(runsDir, 'run-a', 'models', 'round-1'), { recursive: true });
    writeFileSync(join(runsDir, 'run-a', 'report.json'), JSON.stringify(report));
    writeFileSync(join(runsDir, 'run-a', 'models', 'round-1', 'model.json'), '{"format":"layers-model"}');
    writeFileSync(join(runsDir, 'run-a', 'models', 'round-1', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
    mkdirSync(join(runsDir, 'not-a-run'));
    c = buildApp({ runsDir, maxMessageBytes: 1024 * 1024, live: () => ({ runId: 'run-a', phase: 'running', round: 1, sites: [] }) });
    await c.app.ready();
  });
  afterAll(() => c.app.close());

  it('GET /api/health', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/api/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', runId: 'run-a', phase: 'running' });
  });

  it('GET /api/runs lists runs with a report and skips other folders', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/api/runs' });
    expect(res.json()).toEqual({ runs: [{ runId: 'run-a', status: 'complete', startedAt: report.startedAt, rounds: 0, accuracy: 0.8 }] });
  });

  it('GET /api/runs/:id returns the report', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/api/runs/run-a' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(report);
  });

  it('GET /api/runs/:id/model/* serves the latest global model files', async () => {
    const json = await c.app.inject({ method: 'GET', url: '/api/runs/run-a/model/model.json' });
    expect(json.statusCode).toBe(200);
    expect(json.headers['content-type']).toMatch(/application\/json/);
    expect(json.json()).toEqual({ format: 'layers-model' });
    const bin = await c.app.inject({ method: 'GET', url: '/api/runs/run-a/model/weights.bin' });
    expect([...bin.rawPayload]).toEqual([1, 2, 3, 4]);
  });

  it('answers unknown runs, files and traversal attempts with typed 404s', async () => {
    for (const url of ['/api/runs/nope', '/api/runs/run-a/model/report.json', '/api/runs/run-a/model/..%2F..%2Freport.json', '/api/runs/..%2Fetc/model/model.json', '/api/nothing']) {
      const res = await c.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('not_found');
      expect(typeof res.json().error.message).toBe('string');
    }
  });
});
