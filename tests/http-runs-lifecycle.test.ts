import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinatorServer, loadModelDir, maxMessageBytesFor, pretrainedModelDir, type CoordinatorServer } from '@fedtune/coordinator';
import { deriveSeed, siteName, SiteClient, socketIoConnector, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from './helpers/federation.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

const smallRun = { rounds: 2, minSites: 2, seed: 3, roundTimeoutMs: 60_000, robustness: { when: 'never' }, federatedEvaluation: 'never' };

describe('runs created and started over HTTP (coordinator with no run)', () => {
  const runsDir = tempDir();
  let server: CoordinatorServer;
  let backend: string;

  beforeAll(async () => {
    backend = (await selectNodeBackend()).backend;
    const modelDir = pretrainedModelDir('mlp');
    const probe = await loadModelDir(modelDir);
    const maxMessageBytes = maxMessageBytesFor(probe);
    probe.dispose();
    server = createCoordinatorServer({
      runsDir,
      holdout: head(builtinDigits().holdout, 200),
      architecture: 'mlp',
      backend,
      transport: 'socket',
      maxMessageBytes,
      loadModel: () => loadModelDir(modelDir),
      apiRateLimit: false,
    });
    await server.listen();
  });

  afterAll(async () => {
    await server?.close();
  });

  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) => server.app!.app.inject({ method, url, payload: payload as never });

  const site = (k: number) => {
    const siteId = siteName(k);
    const data = builtinDigitsSites({ sites: 2, partition: { kind: 'dirichlet', alpha: 1 }, seed: 3 })[k];
    return new SiteClient({
      policy: testSitePolicy(),
      siteId,
      connector: socketIoConnector({ url: server.url! }),
      data: splitDataset(head(data, 100), deriveSeed(3, 'split', siteId)),
      backend,
      runtime: 'node',
    });
  };

  it('serves with no run', async () => {
    expect((await api('GET', '/api/live')).json()).toMatchObject({ phase: 'idle', sites: [] });
    expect((await api('GET', '/api/health')).json().runId).toBeUndefined();
  });

  it('refuses an invalid config with a typed 400 naming the field', async () => {
    const res = await api('POST', '/api/runs', { ...smallRun, rounds: 0 });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('config');
    expect(res.json().error.message).toMatch(/rounds/);
    const notObject = await api('POST', '/api/runs', [1, 2]);
    expect(notObject.statusCode).toBe(400);
    expect(notObject.json().error.code).toBe('config');
  });

  it('creates a run, starts it, and the sites that connect complete it', async () => {
    const created = await api('POST', '/api/runs', smallRun);
    expect(created.statusCode).toBe(201);
    const { runId, status } = created.json() as { runId: string; status: string };
    expect(status).toBe('created');
    expect(runId).toMatch(/^run-/);
    expect(JSON.parse(readFileSync(join(runsDir, runId, 'config.json'), 'utf8'))).toMatchObject({ runId, rounds: 2, minSites: 2 });
    expect((await api('GET', `/api/runs/${runId}`)).json()).toMatchObject({ runId, status: 'created' });
    expect((await api('GET', '/api/runs')).json().runs).toContainEqual(expect.objectContaining({ runId, status: 'created', rounds: 0 }));

    const again = await api('POST', '/api/runs', { ...smallRun, runId });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('run_exists');
    expect((await api('POST', '/api/runs/nope/start')).statusCode).toBe(404);

    // One site connects before the run starts (it waits), the other after.
    const early = site(0);
    const earlyRun = early.run();
    await new Promise((r) => setTimeout(r, 200));
    const started = await api('POST', `/api/runs/${runId}/start`);
    expect(started.statusCode).toBe(202);
    expect(started.json()).toEqual({ runId, status: 'starting' });
    expect((await api('GET', `/api/runs/${runId}`)).json().status).toBe('waiting');

    // Another run cannot start while this one is active.
    const other = (await api('POST', '/api/runs', { ...smallRun, runId: 'second' })).json() as { runId: string };
    const refused = await api('POST', `/api/runs/${other.runId}/start`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('run_active');

    const late = site(1);
    const outcomes = await Promise.all([earlyRun, late.run()]);
    for (const o of outcomes) expect(o.completed).toBe(true);
    const report = await server.current!.done;
    expect(report.status).toBe('complete');

    const shown = (await api('GET', `/api/runs/${runId}`)).json();
    expect(shown.status).toBe('complete');
    expect(shown.rounds).toHaveLength(2);
    expect((await api('GET', `/api/runs/${runId}/rounds`)).json().rounds).toHaveLength(2);
    expect(existsSync(join(runsDir, runId, 'report.json'))).toBe(true);

    // Started runs cannot be started again; once the run ended the next one can start, and stop.
    expect((await api('POST', `/api/runs/${runId}/start`)).json().error.code).toBe('run_started');
    expect((await api('POST', '/api/runs/second/start')).statusCode).toBe(202);
    expect((await api('GET', '/api/live')).json()).toMatchObject({ runId: 'second', phase: 'waiting' });
    expect((await api('POST', '/api/runs/second/stop')).statusCode).toBe(202);
    const second = await server.current!.done;
    expect(second).toMatchObject({ runId: 'second', status: 'aborted' });
    expect((await api('GET', '/api/runs')).json().runs.map((r: { runId: string }) => r.runId).sort()).toEqual([runId, 'second'].sort());
  });
});
