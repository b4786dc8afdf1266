// A site launched with its coordinator (STARTUP_RETRY in shared/src/client/site-client.ts): until it has connected
// once, a failed connect is retried every startupRetryMs for startupWindowMs, uncounted and announced once; then the
// exponential backoff as before. Over real socket.io: a site started before anything listens joins once it does.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadModelDir, maxMessageBytesForModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { deriveSeed, FedtuneError, SiteClient, socketIoConnector, splitDataset, STARTUP_RETRY, type ClientConnector, type SiteEvent } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

/** A connector that always fails, recording when it was asked. */
function refusing(): ClientConnector & { at: number[] } {
  const at: number[] = [];
  return {
    at,
    connect: async () => {
      at.push(performance.now());
      throw new FedtuneError('transport', 'cannot connect to http://127.0.0.1:1: connect ECONNREFUSED');
    },
  };
}

function siteWith(connector: ClientConnector, reconnect: SiteClient['options']['reconnect'], events: SiteEvent[]): SiteClient {
  return new SiteClient({
    siteId: 'site-1',
    connector,
    data: splitDataset(head(builtinDigits().holdout, 20), 1),
    backend: 'cpu',
    runtime: 'node',
    reconnect,
    onEvent: (e) => void events.push(e),
  });
}

const gaps = (at: number[]) => at.slice(1).map((t, i) => t - at[i]);

describe('a site that cannot connect yet', () => {
  it('retries every startupRetryMs within the start-up window, uncounted and announced once; then backs off as before', async () => {
    const connector = refusing();
    const events: SiteEvent[] = [];
    const outcome = await siteWith(connector, { retries: 2, baseDelayMs: 50, startupRetryMs: 20, startupWindowMs: 400 }, events).run();
    expect(outcome.completed).toBe(false);
    expect(outcome.reason).toMatch(/ECONNREFUSED/);
    // Exactly three counted attempts end the run (retries 2); everything before them was a quick retry.
    const quick = connector.at.length - 3;
    expect(quick).toBeGreaterThanOrEqual(6); // ~400 / 20 (timers may run late on a loaded machine, never early)
    expect(connector.at[quick - 1] - connector.at[0]).toBeLessThan(400);
    for (const g of gaps(connector.at.slice(0, quick))) expect(g).toBeGreaterThanOrEqual(19);
    expect(events.filter((e) => e.type === 'waiting-for-coordinator')).toEqual([{ type: 'waiting-for-coordinator', retryMs: 20, windowMs: 400, reason: expect.stringMatching(/ECONNREFUSED/) }]);
    // After the window: the backoff, counted (attempt 1, 2 at 50 and 100 ms), not the quick retries.
    expect(events.filter((e) => e.type === 'reconnecting')).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 50 }),
      expect.objectContaining({ attempt: 2, delayMs: 100 }),
    ]);
    const [g1, g2] = gaps(connector.at.slice(quick));
    expect(g1).toBeGreaterThanOrEqual(49);
    expect(g2).toBeGreaterThanOrEqual(99);
  });

  it('startupWindowMs 0: the backoff from the first failure (no quick retries, nothing announced)', async () => {
    const connector = refusing();
    const events: SiteEvent[] = [];
    await siteWith(connector, { retries: 2, baseDelayMs: 30, startupWindowMs: 0 }, events).run();
    expect(connector.at.length).toBe(3);
    expect(events.some((e) => e.type === 'waiting-for-coordinator')).toBe(false);
    expect(events.filter((e) => e.type === 'reconnecting').map((e) => (e as { delayMs: number }).delayMs)).toEqual([30, 60]);
  });

  it('no retries: the first failure is thrown at once (no start-up window)', async () => {
    const connector = refusing();
    await expect(siteWith(connector, undefined, []).run()).rejects.toThrow(/ECONNREFUSED/);
    expect(connector.at.length).toBe(1);
  });

  it('the defaults: every 100 ms for 5 s', () => {
    expect(STARTUP_RETRY).toEqual({ retryMs: 100, windowMs: 5_000 });
  });
});

describe('over socket.io: a site started before its coordinator listens', () => {
  it('joins once the coordinator listens, after quick uncounted retries (no backoff step)', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const backend = await selectNodeBackend();
    const events: SiteEvent[] = [];
    const full = builtinDigitsSites({ sites: 1, partition: { kind: 'iid' }, seed: 5 })[0];
    const site = new SiteClient({
      siteId: 'site-1',
      connector: socketIoConnector({ url: `http://127.0.0.1:${port}` }),
      modelServer: `http://127.0.0.1:${port}`,
      data: splitDataset(head(full, 40), deriveSeed(5, 'split', 'site-1')),
      backend: backend.backend,
      runtime: 'node',
      reconnect: { retries: 3, startupRetryMs: 50 },
      onEvent: (e) => void events.push(e),
    });
    const run = site.run();
    await new Promise((r) => setTimeout(r, 400)); // nothing listens yet: the site is retrying
    expect(events.filter((e) => e.type === 'waiting-for-coordinator')).toHaveLength(1);
    const modelDir = pretrainedModelDir('mlp');
    const coordinator = await startCoordinator({
      runsDir: tempDir(),
      architecture: 'mlp',
      backend: backend.backend,
      transport: 'socket',
      port,
      maxMessageBytes: maxMessageBytesForModelDir(modelDir)!,
      load: async () => ({ model: await loadModelDir(modelDir), holdout: head(builtinDigits().holdout, 50) }),
      config: { runId: 'startup-retry', rounds: 1, minSites: 1, seed: 5, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' } },
    });
    try {
      const report = await coordinator.done;
      const outcome = await run;
      expect(report.status).toBe('complete');
      expect(report.rounds[0].accepted.map((a) => a.siteId)).toEqual(['site-1']);
      expect(outcome.completed).toBe(true);
      // Still once, and none of the counted backoff: the quick retries found the coordinator.
      expect(events.filter((e) => e.type === 'waiting-for-coordinator')).toHaveLength(1);
      expect(events.some((e) => e.type === 'reconnecting')).toBe(false);
    } finally {
      await coordinator.close();
    }
  }, 60_000);
});
