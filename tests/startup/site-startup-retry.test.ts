// A site launched with its coordinator (STARTUP_RETRY in shared/src/client/site-client.ts): until it has connected
// once, a failed connect is retried every startupRetryMs for startupWindowMs, uncounted and announced once; then the
// exponential backoff as before. Over real socket.io: a site started before anything listens joins once it does.
import { describe, expect, it } from 'vitest';
import { deriveSeed, FedtuneError, SiteClient, socketIoConnector, splitDataset, STARTUP_RETRY, type ClientConnector, type IdlePhase, type SiteEvent } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import * as tf from '@tensorflow/tfjs';
import { runVirtualSites, VirtualDigitsSites, warmUpTraining } from '@fedtune/client-node';
import { head } from '../helpers/federation.ts';
import { mlpSocketCoordinator } from './mlp-socket-coordinator.ts';
import { freePort } from '../helpers/redis-server.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

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

function siteWith(connector: ClientConnector, reconnect: SiteClient['options']['reconnect'], events: SiteEvent[], whileWaiting?: (signal: AbortSignal, phase: IdlePhase) => Promise<void>): SiteClient {
  return new SiteClient({
    policy: testSitePolicy(),
    ...(whileWaiting ? { whileWaiting } : {}),
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
    const idle: Array<{ startedAt: number; abortedAt?: number }> = [];
    const whileWaiting = (signal: AbortSignal, phase: IdlePhase) => {
      expect(phase).toBe('connecting');
      const call: { startedAt: number; abortedAt?: number } = { startedAt: connector.at.length };
      idle.push(call);
      signal.addEventListener('abort', () => (call.abortedAt = connector.at.length));
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    };
    const outcome = await siteWith(connector, { retries: 2, baseDelayMs: 50, startupRetryMs: 20, startupWindowMs: 400 }, events, whileWaiting).run();
    // The idle work started once, at the first failure, and was ended with the run (no connect ever succeeded).
    expect(idle).toEqual([{ startedAt: 1, abortedAt: connector.at.length }]);
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
    let idleCalls = 0;
    await siteWith(connector, { retries: 2, baseDelayMs: 30, startupWindowMs: 0 }, events, async () => void idleCalls++).run();
    expect(connector.at.length).toBe(3);
    expect(idleCalls).toBe(0);
    expect(events.some((e) => e.type === 'waiting-for-coordinator')).toBe(false);
    expect(events.filter((e) => e.type === 'reconnecting').map((e) => (e as { delayMs: number }).delayMs)).toEqual([30, 60]);
  });

  it('no retries: the first failure is thrown at once (no start-up window)', async () => {
    const connector = refusing();
    let idleCalls = 0;
    await expect(siteWith(connector, undefined, [], async () => void idleCalls++).run()).rejects.toThrow(/ECONNREFUSED/);
    expect(connector.at.length).toBe(1);
    expect(idleCalls).toBe(0);
  });

  it('the defaults: every 100 ms for 5 s', () => {
    expect(STARTUP_RETRY).toEqual({ retryMs: 100, windowMs: 5_000 });
  });
});

describe('over socket.io: a site started before its coordinator listens', () => {
  it('joins once the coordinator listens, after quick uncounted retries (no backoff step)', async () => {
    const port = await freePort();
    const backend = await selectNodeBackend();
    const events: SiteEvent[] = [];
    const warm: { started?: number; ended?: number; steps?: number } = {};
    const full = builtinDigitsSites({ sites: 1, partition: { kind: 'iid' }, seed: 5 })[0];
    const site = new SiteClient({
      policy: testSitePolicy(),
      siteId: 'site-1',
      connector: socketIoConnector({ url: `http://127.0.0.1:${port}` }),
      modelServer: `http://127.0.0.1:${port}`,
      data: splitDataset(head(full, 40), deriveSeed(5, 'split', 'site-1')),
      backend: backend.backend,
      runtime: 'node',
      reconnect: { retries: 3, startupRetryMs: 50 },
      onEvent: (e) => void events.push(e),
      // The node site's idle work: warming the training path until the coordinator answers (its 'joined' phase: site-idle-after-join.test.ts).
      whileWaiting: async (signal, phase) => {
        if (phase !== 'connecting') return;
        warm.started = events.length;
        warm.steps = (await warmUpTraining(signal)).steps;
        warm.ended = events.length;
      },
    });
    const run = site.run();
    await new Promise((r) => setTimeout(r, 400)); // nothing listens yet: the site is retrying
    expect(events.filter((e) => e.type === 'waiting-for-coordinator')).toHaveLength(1);
    const coordinator = await mlpSocketCoordinator({ port, backend: backend.backend, runId: 'startup-retry', minSites: 1, seed: 5 });
    try {
      const report = await coordinator.done;
      const outcome = await run;
      expect(report.status).toBe('complete');
      expect(report.rounds[0].accepted.map((a) => a.siteId)).toEqual(['site-1']);
      expect(outcome.completed).toBe(true);
      // Still once, and none of the counted backoff: the quick retries found the coordinator.
      expect(events.filter((e) => e.type === 'waiting-for-coordinator')).toHaveLength(1);
      expect(events.some((e) => e.type === 'reconnecting')).toBe(false);
      // The warm-up ran while nothing listened and had stopped before the site joined (no event in between: 'connected' comes after).
      expect(warm.steps).toBeGreaterThan(0);
      expect(warm.ended).toBe(warm.started);
      expect(events.findIndex((e) => e.type === 'welcome')).toBeGreaterThan(warm.ended!);
    } finally {
      await coordinator.close();
    }
  }, 60_000);

  it('20 sites started before their coordinator all join its first round, each announced once, none backing off', async () => {
    const SITES = 20;
    const port = await freePort();
    const backend = await selectNodeBackend();
    const events = new Map<string, SiteEvent[]>();
    const warmSteps = new Map<string, number>();
    const datasets = builtinDigitsSites({ sites: SITES, partition: { kind: 'iid' }, seed: 6 });
    const runs = datasets.map((full, k) => {
      const siteId = `site-${k + 1}`;
      events.set(siteId, []);
      return new SiteClient({
        policy: testSitePolicy(),
        siteId,
        connector: socketIoConnector({ url: `http://127.0.0.1:${port}` }),
        modelServer: `http://127.0.0.1:${port}`,
        data: splitDataset(head(full, 30), deriveSeed(6, 'split', siteId)),
        backend: backend.backend,
        runtime: 'node',
        reconnect: { retries: 3 }, // STARTUP_RETRY's defaults: every 100 ms for 5 s
        onEvent: (e) => void events.get(siteId)!.push(e),
        whileWaiting: async (signal, phase) => void (phase === 'connecting' && warmSteps.set(siteId, (await warmUpTraining(signal)).steps)),
      }).run();
    });
    await new Promise((r) => setTimeout(r, 300));
    const coordinator = await mlpSocketCoordinator({ port, backend: backend.backend, runId: 'startup-retry-20', minSites: SITES, seed: 6 });
    try {
      const report = await coordinator.done;
      const outcomes = await Promise.all(runs);
      expect(report.status).toBe('complete');
      expect(report.rounds[0].accepted).toHaveLength(SITES);
      expect(outcomes.every((o) => o.completed)).toBe(true);
      for (const [siteId, list] of events) {
        expect(list.filter((e) => e.type === 'waiting-for-coordinator'), siteId).toHaveLength(1);
        expect(list.some((e) => e.type === 'reconnecting'), siteId).toBe(false);
      }
      // Every site warmed up while it waited, and stopped to join.
      expect(warmSteps.size).toBe(SITES);
      for (const steps of warmSteps.values()) expect(steps).toBeGreaterThan(0);
    } finally {
      await coordinator.close();
    }
  }, 120_000);
});

describe('warmUpTraining (client-node): the idle work of a node site', () => {
  it('trains in chunks of 8 steps up to maxSteps (default 64), and leaves no tensor behind', async () => {
    await selectNodeBackend();
    const before = tf.memory().numTensors;
    expect(await warmUpTraining(new AbortController().signal)).toEqual({ steps: 64 });
    expect(await warmUpTraining(new AbortController().signal, 20)).toEqual({ steps: 24 });
    expect(tf.memory().numTensors).toBe(before);
  });
  it('does nothing once aborted, and stops within a chunk of an abort', async () => {
    const before = tf.memory().numTensors;
    const aborted = new AbortController();
    aborted.abort();
    expect(await warmUpTraining(aborted.signal)).toEqual({ steps: 0 });
    const later = new AbortController();
    const running = warmUpTraining(later.signal, 1_000_000);
    await new Promise((r) => setTimeout(r, 30));
    later.abort();
    const { steps } = await running;
    expect(steps).toBeGreaterThanOrEqual(8);
    expect(steps).toBeLessThan(1_000_000);
    expect(steps % 8).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('virtual sites (fedtune worker) do not retry quickly', () => {
  it('back off from their first failure: thousands in one process would flood a coordinator still starting', async () => {
    const events: SiteEvent[] = [];
    const connectors: Array<ReturnType<typeof refusing>> = [];
    const sites = new VirtualDigitsSites(builtinDigits().pool, { seed: 11, examples: 20, alpha: 0.5 });
    const outcomes = await Promise.all(
      runVirtualSites({
        sites,
        range: { first: 0, last: 2 },
        connector: () => {
          const c = refusing();
          connectors.push(c);
          return c;
        },
        backend: 'cpu',
        reconnectRetries: 1,
        onEvent: (_, e) => void events.push(e),
      }),
    );
    expect(outcomes.every((o) => !o.completed)).toBe(true);
    // Two attempts each (the first and one retry after 250 ms), no quick retries, nothing announced.
    expect(connectors.map((c) => c.at.length)).toEqual([2, 2, 2]);
    expect(events.some((e) => e.type === 'waiting-for-coordinator')).toBe(false);
    expect(events.filter((e) => e.type === 'reconnecting').map((e) => (e as { delayMs: number }).delayMs)).toEqual([250, 250, 250]);
  });
});
