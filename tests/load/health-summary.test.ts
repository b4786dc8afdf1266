import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type CoordinatorApp, type LiveStatus } from '@fedtune/coordinator';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

/** `live` as a coordinator with many joined sites gives it, counting the calls. */
function countingLive(sites: number) {
  const calls = { live: 0, summary: 0 };
  const live = (): LiveStatus => {
    calls.live++;
    return { runId: 'run-h', phase: 'running', round: 2, sites: Array.from({ length: sites }, (_, k) => ({ siteId: `s-${k}`, backend: 'wasm', runtime: 'node', lastSeen: new Date(0).toISOString() })) };
  };
  const liveSummary = () => {
    calls.summary++;
    return { runId: 'run-h', phase: 'running' };
  };
  return { calls, live, liveSummary };
}

describe('GET /api/health reads the run summary only, not the list of sites', () => {
  let c: CoordinatorApp | undefined;
  afterEach(async () => {
    await c?.app.close();
    c = undefined;
  });

  it('answers from liveSummary and never builds the site list that `live` lists', async () => {
    const { calls, live, liveSummary } = countingLive(500);
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, live, liveSummary, apiRateLimit: false });
    for (let k = 0; k < 3; k++) {
      const res = await c.app.inject({ method: 'GET', url: '/api/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'ok', runId: 'run-h', phase: 'running' });
    }
    expect(calls).toEqual({ live: 0, summary: 3 });
  });

  it('falls back to `live` where no summary is given, and answers without a run', async () => {
    const { calls, live } = countingLive(2);
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, live, apiRateLimit: false });
    expect((await c.app.inject({ method: 'GET', url: '/api/health' })).json()).toMatchObject({ status: 'ok', runId: 'run-h', phase: 'running' });
    expect(calls.live).toBe(1);
    await c.app.close();
    c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, liveSummary: () => undefined, apiRateLimit: false });
    const idle = (await c.app.inject({ method: 'GET', url: '/api/health' })).json();
    expect(idle.status).toBe('ok');
    expect(idle.runId).toBeUndefined();
  });

  it('a real coordinator with 20 socket.io sites: during a round health gives the run and its phase, /api/live lists every site', async () => {
    let url = '';
    let atRound: Promise<[unknown, LiveStatus]> | undefined;
    const fed = await startTestFederation({
      sites: 20,
      rounds: 1,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      seed: 14,
      onEvent: (e) => {
        // Every site is joined when the round starts: ask both routes then.
        if (e.type === 'round-start' && !atRound) atRound = Promise.all([fetch(`${url}/api/health`).then((r) => r.json()), fetch(`${url}/api/live`).then((r) => r.json() as Promise<LiveStatus>)]);
      },
    });
    url = fed.coordinator.url!;
    try {
      const report = await fed.coordinator.done;
      expect(report.status).toBe('complete');
      expect(atRound).toBeDefined();
      const [health, live] = await atRound!;
      expect(health).toMatchObject({ status: 'ok', runId: fed.coordinator.runId, phase: 'running' });
      expect(live.sites.map((s) => s.siteId).sort()).toEqual(report.rounds[0].selected.length === 20 ? [...report.rounds[0].selected].sort() : live.sites.map((s) => s.siteId).sort());
      expect(live.sites).toHaveLength(20);
      expect((await (await fetch(`${url}/api/health`)).json()) as object).toMatchObject({ runId: fed.coordinator.runId, phase: 'complete' });
      await Promise.all(fed.siteRuns);
    } finally {
      await fed.coordinator.close();
    }
  }, 120_000);
});
