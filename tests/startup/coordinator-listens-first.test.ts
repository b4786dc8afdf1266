// Fast start (docs/performance.md#listening-first): the coordinator listens before it loads its model and
// holdout; health answers meanwhile, sites that connect meanwhile wait and join the run, and a load that
// fails closes the server with that error.
import { describe, expect, it } from 'vitest';
import { loadModelDir, maxMessageBytesFor, maxMessageBytesForModelDir, pretrainedModelDir, startCoordinator, type Listening, type RunInputs } from '@fedtune/coordinator';
import { deriveSeed, FedtuneError, siteName, SiteClient, socketIoConnector, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

const SITES = 20;
const modelDir = pretrainedModelDir('mlp');

/** A promise with its resolve function. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** startCoordinator with `load` held until `release`; `listening` resolves once it listens. */
async function coordinatorHeldBeforeLoad(load: () => Promise<RunInputs>, config: Record<string, unknown> = {}) {
  const backend = await selectNodeBackend();
  const listening = deferred<Listening>();
  const started = startCoordinator({
    runsDir: tempDir(),
    architecture: 'mlp',
    backend: backend.backend,
    transport: 'socket',
    maxMessageBytes: maxMessageBytesForModelDir(modelDir)!,
    load,
    onListening: listening.resolve,
    config: { runId: 'listens-first', rounds: 1, minSites: SITES, seed: 3, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' }, ...config },
  });
  // A start that fails before listening must fail the test, not hang it.
  return { started, listening: await Promise.race([listening.promise, started.then(() => listening.promise)]), backend: backend.backend };
}

describe('the coordinator listens before loading its model and holdout', () => {
  it(`answers GET /api/health while loading, and ${SITES} sites that connect over socket.io meanwhile join the run`, async () => {
    const gate = deferred();
    let loaded = false;
    const { started, listening, backend } = await coordinatorHeldBeforeLoad(async () => {
      await gate.promise;
      loaded = true;
      return { model: await loadModelDir(modelDir), holdout: head(builtinDigits().holdout, 100) };
    });
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.coordinatorKey).toMatch(/^[0-9a-f]{64}$/);
    const health = await fetch(`${listening.url}/api/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; runId?: string };
    expect(body.status).toBe('ok');
    expect(body.runId).toBeUndefined(); // no run yet: the holdout is not loaded
    expect(loaded).toBe(false);

    const connected: Array<Promise<void>> = [];
    const datasets = builtinDigitsSites({ sites: SITES, partition: { kind: 'dirichlet', alpha: 1 }, seed: 3 });
    const clients = datasets.map((full, k) => {
      const siteId = siteName(k);
      const isConnected = deferred();
      connected.push(isConnected.promise);
      return new SiteClient({
        policy: testSitePolicy(),
        siteId,
        connector: socketIoConnector({ url: listening.url! }),
        modelServer: listening.url!,
        data: splitDataset(head(full, 40), deriveSeed(3, 'split', siteId)),
        backend,
        runtime: 'node',
        onEvent: (e) => e.type === 'connected' && isConnected.resolve(),
      });
    });
    const runs = clients.map((c) => c.run());
    await Promise.all(connected); // every site is connected (and has said hello) before the run exists
    expect(loaded).toBe(false);
    gate.resolve();
    const coordinator = await started;
    try {
      const report = await coordinator.done;
      await Promise.all(runs);
      expect(report.status).toBe('complete');
      expect(report.rounds).toHaveLength(1);
      expect(report.rounds[0].accepted.length).toBe(SITES);
      const after = (await (await fetch(`${listening.url}/api/health`)).json()) as { runId?: string };
      expect(after.runId).toBe('listens-first');
    } finally {
      await coordinator.close();
    }
  }, 180_000);

  it('a load that fails closes the server and rejects with its error (after listening)', async () => {
    const { started, listening } = await coordinatorHeldBeforeLoad(async () => {
      throw new FedtuneError('data', 'the holdout is broken');
    });
    await expect(started).rejects.toThrow(/^the holdout is broken$/);
    await expect(fetch(`${listening.url}/api/health`)).rejects.toThrow();
  });

  it('refuses a loaded model with more weights than the manifest announced, and disposes it', async () => {
    const model = await loadModelDir(modelDir);
    const { started } = await coordinatorHeldBeforeLoad(async () => ({ model, holdout: head(builtinDigits().holdout, 10) }), {});
    await expect(started).resolves.toBeDefined(); // the right manifest: accepted
    await (await started).close();
    const backend = await selectNodeBackend();
    const tooBig = await loadModelDir(modelDir);
    const start = startCoordinator({
      runsDir: tempDir(),
      architecture: 'mlp',
      backend: backend.backend,
      transport: 'socket',
      maxMessageBytes: maxMessageBytesFor(tooBig) - 1,
      load: async () => ({ model: tooBig, holdout: head(builtinDigits().holdout, 10) }),
      config: { runId: 'too-big', rounds: 1, minSites: 1 },
    });
    await expect(start).rejects.toThrow(/more weights than its model\.json's weightsManifest announced/);
    expect(() => tooBig.getWeights()[0].dataSync()).toThrow(/disposed/);
  });

  it.each([
    ['neither model nor load', {}],
    ['load without maxMessageBytes', { load: async () => ({}) as RunInputs }],
    ['both model and load', { load: async () => ({}) as RunInputs, maxMessageBytes: 1 << 24, model: {} }],
    ['a model without a holdout', { model: {} }],
  ])('refuses %s with a config error', async (_, given) => {
    const start = startCoordinator({ runsDir: tempDir(), architecture: 'mlp', backend: 'cpu', transport: 'socket', config: { runId: 'x', rounds: 1 }, ...(given as object) } as Parameters<typeof startCoordinator>[0]);
    await expect(start).rejects.toMatchObject({ code: 'config', message: 'startCoordinator needs either model and holdout, or load and maxMessageBytes' });
  });
});
