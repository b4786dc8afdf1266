import { describe, expect, it } from 'vitest';
import { scriptedTerms } from '../helpers/scripted-terms.ts';
import { loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import { batchNormWeightIndices, decodeWeights, encodeWeights, modelManifest, PROTOCOL_VERSION, readModelWeights, type TrainConfig, type ClientConnector, type CoordinatorLink, deriveSeed, MemoryNetwork, siteName, SiteClient, splitDataset, type RunReport, type WeightArrays } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/** A connector whose links report the training config of every 'fit' the site receives. */
function observing(connector: ClientConnector, onFitConfig?: (config: TrainConfig) => void): ClientConnector {
  return {
    async connect(): Promise<CoordinatorLink> {
      const link = await connector.connect();
      const onMessage = link.onMessage.bind(link);
      link.onMessage = (handler) =>
        onMessage((m) => {
          if (m.event === 'fit') onFitConfig?.(m.payload.config);
          handler(m);
        });
      return link;
    },
  };
}

interface Captured {
  round: number;
  local: WeightArrays;
  global: WeightArrays;
}

async function federation(architecture: 'mlp' | 'cnn-bn', config: Partial<RunConfigInput>, onFitConfig?: (config: TrainConfig) => void): Promise<{ report: RunReport; updates: Record<string, Captured[]>; bn: number[]; manifest: ReturnType<typeof modelManifest> }> {
  const backend = await selectNodeBackend();
  const seed = 11;
  const memory = new MemoryNetwork();
  const model = await loadModelDir(pretrainedModelDir(architecture));
  const bn = batchNormWeightIndices(model);
  const manifest = modelManifest(model);
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model,
    architecture,
    holdout: head(builtinDigits().holdout, 60),
    backend: backend.backend,
    transport: memory,
    config: {
      runId: `fedbn-${architecture}`,
      rounds: 2,
      minSites: 2,
      seed,
      roundTimeoutMs: 120_000,
      joinTimeoutMs: 120_000,
      robustness: { when: 'never' },
      federatedEvaluation: 'never',
      maxAccuracyDrop: 1,
      train: { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all' },
      ...config,
    },
  });
  const updates: Record<string, Captured[]> = {};
  // Two sites whose inputs differ as much as scanners can: the second one's images are inverted (ink is light).
  const datasets = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed }).map((d, k) => (k === 1 ? { ...d, x: d.x.map((v) => 1 - v) } : d));
  const clients = datasets.map((full, k) => {
    const siteId = siteName(k);
    updates[siteId] = [];
    return new SiteClient({
      policy: testSitePolicy(),
      siteId,
      connector: observing(memory.connector(), onFitConfig),
      data: splitDataset(head(full, 80), deriveSeed(seed, 'split', siteId)),
      backend: backend.backend,
      runtime: 'node',
      updateHook: (local, ctx) => {
        updates[siteId].push({ round: ctx.round, local: local.map((a) => a.slice()), global: ctx.global.map((a) => a.slice()) });
        return local;
      },
    });
  });
  const runs = clients.map((c) => c.run());
  const report = await coordinator.done;
  await Promise.all(runs);
  await coordinator.close();
  return { report, updates, bn, manifest };
}


const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j])), 0);

/**
 * A scripted coordinator over the in-memory network: round 1 sends the pretrained cnn-bn, round 2 a global
 * model whose BatchNorm γ and β are all 5 (no site has those). SGD at lr 1e-9 moves no weight by more than
 * 1e-6, so what a site sends in round 2 shows which weights it trained from.
 */
async function twoScriptedRounds(localBatchNorm: boolean | undefined): Promise<{ round1: WeightArrays; round2: WeightArrays; global2: WeightArrays; bn: number[]; names: string[] }> {
  await selectNodeBackend();
  const model = await loadModelDir(pretrainedModelDir('cnn-bn'));
  const manifest = modelManifest(model);
  const bn = batchNormWeightIndices(model);
  const global1 = readModelWeights(model).arrays;
  const global2 = global1.map((a, i) => (bn.includes(i) && /gamma|beta/.test(manifest[i].name) ? a.map(() => 5) : a));
  const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  model.dispose();
  const memory = new MemoryNetwork();
  const results: WeightArrays[] = [];
  const config = { epochs: 1, batchSize: 4, learningRate: 1e-9, optimizer: 'sgd' as const, trainable: 'all' as const, seed: 1, maxExamples: 4, ...(localBatchNorm !== undefined ? { localBatchNorm } : {}) };
  memory.serverTransport().onConnection((link) => {
    const fit = (round: number, arrays: WeightArrays) => link.send('fit', { runId: 'scripted', round, modelVersion: round, weights: encodeWeights({ manifest, arrays }), config });
    link.onMessage((m) => {
      if (m.event === 'hello') {
        link.send('welcome', { protocol: PROTOCOL_VERSION, runId: 'scripted', siteId: m.payload.siteId });
        // The site joins under the run's terms (docs/site-policy.md); it checks every instruction against them.
        link.send('terms', scriptedTerms({ runId: 'scripted', rounds: 2, topology, manifest, train: config }));
      }
      if (m.event === 'acceptTerms') {
        link.send('model', { runId: 'scripted', modelVersion: 0, topology, manifest });
        fit(1, global1);
      }
      if (m.event === 'fitResult') {
        results.push(decodeWeights(m.payload.weights).arrays);
        if (m.payload.round === 1) fit(2, global2);
        else link.send('complete', { runId: 'scripted', rounds: 2 });
      }
    });
  });
  const data = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 3 })[0];
  const client = new SiteClient({ policy: testSitePolicy(), siteId: 'site-1', connector: memory.connector(), data: splitDataset(head(data, 40), 1), backend: 'wasm', runtime: 'node' });
  const outcome = await client.run();
  expect(outcome.completed, outcome.reason).toBe(true);
  return { round1: results[0], round2: results[1], global2, bn, names: manifest.map((m) => m.name) };
}

describe('FedBN during federation (config.localBatchNorm): each site keeps its own BatchNorm layers from round to round', () => {
  it.each([
    [true, 'the site trains round 2 from its own BatchNorm γ, β (and statistics), the rest from the global model'],
    [false, 'the site trains round 2 from the global model, BatchNorm included'],
    [undefined, 'absent: as false'],
  ] as Array<[boolean | undefined, string]>)('localBatchNorm %s: %s', async (localBatchNorm) => {
    const { round1, round2, global2, bn, names } = await twoScriptedRounds(localBatchNorm);
    const params = bn.filter((i) => /gamma|beta/.test(names[i]));
    expect(params).toHaveLength(4);
    for (const i of params) {
      // The two candidates are ≥ 3 apart (global γ, β are 5); training moved nothing by more than 1e-6.
      expect(maxDiff(round1[i], global2[i]), names[i]).toBeGreaterThan(3);
      expect(maxDiff(round2[i], localBatchNorm ? round1[i] : global2[i]), names[i]).toBeLessThan(1e-6);
    }
    // Everything that is not BatchNorm comes from the global model either way.
    for (const i of names.keys()) if (!bn.includes(i)) expect(maxDiff(round2[i], global2[i]), names[i]).toBeLessThan(1e-6);
  });

  it('the coordinator asks for local BatchNorm only when the run personalises with fedbn', async () => {
    const seen: Array<boolean | undefined> = [];
    for (const mode of ['fedbn', 'head'] as const) {
      const { updates } = await federation('cnn-bn', { rounds: 1, personalization: { mode, epochs: 1, localOnly: false } }, (config) => seen.push(config.localBatchNorm));
      expect(Object.keys(updates)).toHaveLength(2);
    }
    expect(seen).toEqual([true, true, undefined, undefined]);
  });

  it('a federation that trains only the head keeps the weights in their order (every update accepted, hidden layer unchanged)', async () => {
    const { report, updates } = await federation('mlp', { train: { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'head' } });
    expect(report.status, report.aborted).toBe('complete');
    for (const r of report.rounds) expect(r.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2']);
    for (const u of Object.values(updates).flat()) {
      expect(u.local[0]).toEqual(u.global[0]);
      expect(u.local[2]).not.toEqual(u.global[2]);
    }
  });
});
