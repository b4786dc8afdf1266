// The 'joined' phase of a site's idle work (SiteClient options' whileWaiting): once, after its first welcome, until
// its first instruction — the instruction waits for it to stop; the welcome and the terms do not end it. Node sites
// warm their training path then (client-node's trainingWarmUp, a budget shared with the 'connecting' phase). A
// scripted coordinator on the in-memory network (a real SiteClient, real tfjs), and 20 sites over real socket.io
// joining a coordinator that is already listening.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { deriveSeed, encodeWeights, MemoryNetwork, modelManifest, modelTopology, PROTOCOL_VERSION, readModelWeights, SiteClient, socketIoConnector, splitDataset, type IdlePhase, type SiteEvent, type SiteLink } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { trainingWarmUp, WARM_UP_STEPS } from '@fedtune/client-node';
import { scriptedTerms } from '../helpers/scripted-terms.ts';
import { tinyData, tinyModel } from '../access/helpers.ts';
import { head } from '../helpers/federation.ts';
import { mlpSocketCoordinator } from './mlp-socket-coordinator.ts';
import { freePort } from '../helpers/redis-server.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

const train = { epochs: 1, batchSize: 8, learningRate: 0.05, optimizer: 'sgd', trainable: 'all', seed: 4 } as const;

/** A call of the idle work: its phase, and where in the site's events it started, was aborted and had stopped. */
interface IdleCall {
  phase: IdlePhase;
  startedAt: number;
  abortedAt?: number;
  stoppedAt?: number;
}

/**
 * A scripted coordinator: welcome and terms at each hello; the model and a fit `holdMs` after the terms are
 * accepted, then complete. `dropFirst`: the first connection is closed right after its terms are accepted.
 */
async function scriptedRun(o: { holdMs: number; dropFirst?: boolean; completeFirst?: boolean; stopTakesMs?: number }) {
  const backend = await selectNodeBackend();
  const model = tinyModel();
  const bytes = encodeWeights(readModelWeights(model));
  const topology = { runId: 'r', modelVersion: 0, topology: modelTopology(model), manifest: modelManifest(model) };
  model.dispose();
  const network = new MemoryNetwork();
  let connections = 0;
  network.serverTransport().onConnection((link: SiteLink) => {
    const connection = ++connections;
    link.onMessage((m) => {
      if (m.event === 'hello') {
        link.send('welcome', { protocol: PROTOCOL_VERSION, runId: 'r', siteId: m.payload.siteId });
        link.send('terms', scriptedTerms({ runId: 'r', rounds: 1, topology: topology.topology as never, manifest: topology.manifest as never, train }));
        return;
      }
      if (m.event === 'acceptTerms') {
        if (o.dropFirst && connection === 1) return void setTimeout(() => link.close(), 20);
        setTimeout(() => {
          if (o.completeFirst) return link.send('complete', { runId: 'r', rounds: 1 });
          link.send('model', topology as never);
          link.send('fit', { runId: 'r', round: 1, modelVersion: 1, config: train, weights: bytes } as never);
        }, o.holdMs);
        return;
      }
      if (m.event === 'fitResult') link.send('complete', { runId: 'r', rounds: 1 });
    });
  });
  const events: SiteEvent[] = [];
  const calls: IdleCall[] = [];
  const client = new SiteClient({
    policy: testSitePolicy(),
    siteId: 'site-a',
    connector: network.connector(),
    data: splitDataset(tinyData(60, 2), 1),
    backend: backend.backend,
    runtime: 'node',
    reconnect: { retries: 2, baseDelayMs: 20 },
    onEvent: (e) => void events.push(e),
    whileWaiting: (signal, phase) => {
      const call: IdleCall = { phase, startedAt: events.length };
      calls.push(call);
      return new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => {
          call.abortedAt = events.length;
          // Idle work stops within its current chunk: here a chunk that takes stopTakesMs.
          setTimeout(() => {
            call.stoppedAt = events.length;
            resolve();
          }, o.stopTakesMs ?? 0);
        }),
      );
    },
  });
  const outcome = await client.run();
  return { outcome, events, calls, connections, index: (type: SiteEvent['type']) => events.findIndex((e) => e.type === type) };
}

describe("a site's idle work after it joined (the 'joined' phase)", () => {
  it('starts at the welcome, goes on through the terms, and the first instruction is handled only once it has stopped', async () => {
    const { outcome, calls, index } = await scriptedRun({ holdMs: 150, stopTakesMs: 60 });
    expect(outcome.completed, outcome.reason).toBe(true);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call!.phase).toBe('joined');
    // Started right after the welcome event, still running after the terms were accepted.
    expect(call!.startedAt).toBe(index('welcome') + 1);
    expect(call!.abortedAt).toBeGreaterThan(index('terms'));
    // The model arrived while it ran: aborted then, and the model was handled only after it had stopped (60 ms later).
    expect(call!.stoppedAt).toBe(call!.abortedAt);
    expect(index('model')).toBeGreaterThanOrEqual(call!.stoppedAt!);
  });

  it('runs once per site: not again after a reconnect and a second welcome (and ends at the reconnect)', async () => {
    const { outcome, events, calls, connections } = await scriptedRun({ holdMs: 30, dropFirst: true });
    expect(outcome.completed, outcome.reason).toBe(true);
    expect(connections).toBe(2);
    expect(events.filter((e) => e.type === 'welcome')).toHaveLength(2);
    expect(calls.map((c) => c.phase)).toEqual(['joined']);
    // Ended before the second connection's welcome.
    const secondWelcome = events.map((e) => e.type).lastIndexOf('welcome');
    expect(calls[0]!.stoppedAt).toBeLessThanOrEqual(secondWelcome);
  });

  it('ends with the run when the run completes before any instruction', async () => {
    const { outcome, calls } = await scriptedRun({ holdMs: 30, completeFirst: true });
    expect(outcome.completed).toBe(true);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.abortedAt).toBeDefined();
    expect(calls[0]!.stoppedAt).toBeDefined();
  });
});

describe('trainingWarmUp (client-node): one budget over both phases', () => {
  it('the connecting phase stops at its cap, the joined phase at the total, counted across calls', async () => {
    await selectNodeBackend();
    const before = tf.memory().numTensors;
    const warmUp = trainingWarmUp({ total: 40, connecting: 16 });
    const go = () => new AbortController().signal;
    expect(await warmUp(go(), 'connecting')).toEqual({ steps: 16 });
    expect(await warmUp(go(), 'connecting')).toEqual({ steps: 0 });
    expect(await warmUp(go(), 'joined')).toEqual({ steps: 24 }); // 40 − 16
    expect(await warmUp(go(), 'joined')).toEqual({ steps: 0 });
    // A joined phase first (a coordinator already listening): the whole budget then.
    expect(await trainingWarmUp({ total: 40, connecting: 16 })(go(), 'joined')).toEqual({ steps: 40 });
    // A connecting cap above the total is the total.
    expect(await trainingWarmUp({ total: 16, connecting: 64 })(go(), 'connecting')).toEqual({ steps: 16 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('concurrent calls (the sites of one process) share the budget: together they take it exactly', async () => {
    const before = tf.memory().numTensors;
    const warmUp = trainingWarmUp({ total: 64, connecting: 64 });
    const go = () => new AbortController().signal;
    const [a, b, c] = await Promise.all([warmUp(go(), 'joined'), warmUp(go(), 'joined'), warmUp(go(), 'joined')]);
    expect(a!.steps + b!.steps + c!.steps).toBe(64);
    // Interleaved chunk by chunk, not one after another.
    for (const call of [a, b, c]) expect(call!.steps).toBeGreaterThan(0);
    expect(await warmUp(go(), 'joined')).toEqual({ steps: 0 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an aborted call stops within a chunk, and its steps count against the budget', async () => {
    const warmUp = trainingWarmUp({ total: 1_000_000, connecting: 1_000_000 });
    const ctl = new AbortController();
    const running = warmUp(ctl.signal, 'connecting');
    await new Promise((r) => setTimeout(r, 30));
    ctl.abort();
    const { steps } = await running;
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(1_000_000);
    expect(steps % 8).toBe(0);
    const capped = trainingWarmUp({ total: 24, connecting: 24 });
    const stopped = new AbortController();
    const first = capped(stopped.signal, 'joined');
    stopped.abort();
    // The chunk claimed before the abort counts: 8 of 24 are gone.
    expect(await first).toEqual({ steps: 8 });
    expect(await capped(new AbortController().signal, 'joined')).toEqual({ steps: 16 });
  });

  it('the defaults: 256 steps in all, at most 64 before the coordinator listens', () => {
    expect(WARM_UP_STEPS).toEqual({ total: 256, connecting: 64 });
  });
});

describe('over socket.io: 20 sites joining a coordinator that already listens', () => {
  it('the early sites warm up while the others join, each once and within the budget, and all 20 train in round 1', async () => {
    const SITES = 20;
    const port = await freePort();
    const backend = await selectNodeBackend();
    const coordinator = await mlpSocketCoordinator({ port, backend: backend.backend, runId: 'idle-after-join-20', minSites: SITES, seed: 8 });
    try {
      const datasets = builtinDigitsSites({ sites: SITES, partition: { kind: 'iid' }, seed: 8 });
      const warm = new Map<string, Array<{ phase: IdlePhase; steps: number; stoppedBeforeModel: boolean }>>();
      const runs: Array<Promise<unknown>> = [];
      for (let k = 0; k < SITES; k++) {
        const siteId = `site-${k + 1}`;
        const events: SiteEvent[] = [];
        const warmUp = trainingWarmUp();
        warm.set(siteId, []);
        runs.push(
          new SiteClient({
            policy: testSitePolicy(),
            siteId,
            connector: socketIoConnector({ url: `http://127.0.0.1:${port}` }),
            modelServer: `http://127.0.0.1:${port}`,
            data: splitDataset(head(datasets[k]!, 30), deriveSeed(8, 'split', siteId)),
            backend: backend.backend,
            runtime: 'node',
            reconnect: { retries: 3 },
            onEvent: (e) => void events.push(e),
            whileWaiting: async (signal, phase) => {
              const { steps } = await warmUp(signal, phase);
              warm.get(siteId)!.push({ phase, steps, stoppedBeforeModel: !events.some((e) => e.type === 'model') });
            },
          }).run(),
        );
        // Sites arrive one after another (the first ones wait for the last: the round needs all 20).
        await new Promise((r) => setTimeout(r, 25));
      }
      const report = await coordinator.done;
      const outcomes = (await Promise.all(runs)) as Array<{ completed: boolean }>;
      expect(report.status).toBe('complete');
      expect(report.rounds[0].accepted).toHaveLength(SITES);
      expect(outcomes.every((o) => o.completed)).toBe(true);
      for (const [siteId, calls] of warm) {
        // Once, after joining (the coordinator listened: no connecting phase), stopped before the model was handled.
        expect(calls.map((c) => c.phase), siteId).toEqual(['joined']);
        expect(calls[0]!.stoppedBeforeModel, siteId).toBe(true);
        expect(calls[0]!.steps, siteId).toBeLessThanOrEqual(WARM_UP_STEPS.total);
      }
      // The first site waited for 19 others (≥ 19 × 25 ms): it warmed up meanwhile.
      expect(warm.get('site-1')![0]!.steps).toBeGreaterThan(0);
    } finally {
      await coordinator.close();
    }
  }, 120_000);
});
