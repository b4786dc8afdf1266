import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp, type CoordinatorApp } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

/** A finished run's report.json of `rounds` rounds of `sites` sites each (about 300 bytes a site a round). */
function bigReport(runId: string, rounds: number, sites: number, startedAt: string): string {
  const ids = Array.from({ length: sites }, (_, i) => `hospital-${i}`);
  const record = (round: number) => ({
    round,
    durationMs: 1000,
    attempts: 1,
    selected: ids,
    accepted: ids.map((siteId) => ({ siteId, numExamples: 100, loss: 0.5, accuracy: 0.8, durationMs: 900 })),
    rejected: [],
    failed: [],
    bytesDown: 1,
    bytesUp: 1,
    global: { accuracy: 0.8, loss: 0.5 },
    federated: { sites: ids.map((siteId) => ({ siteId, accuracy: 0.8, loss: 0.5, numExamples: 20 })), accuracy: 0.8 },
    modelDir: `rounds/${round}`,
  });
  return JSON.stringify({
    schemaVersion: 1,
    runId,
    status: 'complete',
    startedAt,
    updatedAt: startedAt,
    config: { runId },
    backend: 'cpu',
    model: { architecture: 'tiny', parameters: 1 },
    rounds: Array.from({ length: rounds }, (_, i) => record(i + 1)),
    final: { accuracy: 0.8, loss: 0.5, modelDir: `rounds/${rounds}`, round: rounds },
  });
}

/**
 * `GET /api/runs`, and the model files of any run, are open to anyone (rate limited, docs/access.md). Each
 * request read and parsed every run's whole report.json (the listing), or the run's (a model file): a few runs
 * of a thousand sites are tens of MB of JSON, parsed on the event loop per request, so one unauthenticated
 * client within the rate limit kept the coordinator from answering its sites. Now what those routes need of a
 * report is kept per run and read again only when its report.json changes.
 */
describe('the open routes that read run reports', () => {
  const runsDir = tempDir();
  let c: CoordinatorApp;
  const runs = ['r0', 'r1', 'r2'];

  beforeAll(async () => {
    for (const [i, runId] of runs.entries()) {
      mkdirSync(join(runsDir, runId, 'rounds', '20'), { recursive: true });
      mkdirSync(join(runsDir, runId, 'rounds', '3'), { recursive: true });
      writeFileSync(join(runsDir, runId, 'report.json'), bigReport(runId, 20, 1_000, `2026-01-0${i + 1}T00:00:00.000Z`));
      for (const round of ['3', '20']) writeFileSync(join(runsDir, runId, 'rounds', round, 'model.json'), `{"round":${round}}`);
    }
    c = buildApp({ runsDir, maxMessageBytes: 1 << 20, apiRateLimit: false });
    await c.app.ready();
  });
  afterAll(async () => {
    await c.app.close();
    vi.restoreAllMocks();
  });

  it('parse each report once, not once per request, and again only when it changes', async () => {
    const parse = vi.spyOn(JSON, 'parse');
    const bigParses = () => parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 1_000_000).length;

    const first = await c.app.inject({ method: 'GET', url: '/api/runs' });
    expect(first.statusCode).toBe(200);
    expect(first.json().runs).toEqual([
      { runId: 'r2', status: 'complete', startedAt: '2026-01-03T00:00:00.000Z', rounds: 20, accuracy: 0.8 },
      { runId: 'r1', status: 'complete', startedAt: '2026-01-02T00:00:00.000Z', rounds: 20, accuracy: 0.8 },
      { runId: 'r0', status: 'complete', startedAt: '2026-01-01T00:00:00.000Z', rounds: 20, accuracy: 0.8 },
    ]);
    expect(bigParses()).toBe(3);

    for (let i = 0; i < 20; i++) {
      expect((await c.app.inject({ method: 'GET', url: '/api/runs' })).statusCode).toBe(200);
      const latest = await c.app.inject({ method: 'GET', url: '/api/runs/r1/model/model.json' });
      expect(latest.statusCode).toBe(200);
      expect(latest.body).toBe('{"round":20}');
      const round = await c.app.inject({ method: 'GET', url: '/api/runs/r0/rounds/3/model/model.json' });
      expect(round.statusCode).toBe(200);
      expect(round.body).toBe('{"round":3}');
      const missing = await c.app.inject({ method: 'GET', url: '/api/runs/r0/rounds/21/model/model.json' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error).toEqual({ code: 'not_found', message: 'run r0 has no completed round 21' });
    }
    expect(bigParses()).toBe(3);

    // The run's report is written again (a new round): read once more, and the listing shows it.
    writeFileSync(join(runsDir, 'r0', 'report.json'), bigReport('r0', 21, 1_000, '2026-01-04T00:00:00.000Z'));
    const after = await c.app.inject({ method: 'GET', url: '/api/runs' });
    expect(after.json().runs[0]).toEqual({ runId: 'r0', status: 'complete', startedAt: '2026-01-04T00:00:00.000Z', rounds: 21, accuracy: 0.8 });
    expect(bigParses()).toBe(4);
  });
});
