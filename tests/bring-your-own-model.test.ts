import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadModelDir, startCoordinator } from '@fedtune/coordinator';
import {
  corruptionNames,
  deriveSeed,
  fitDatasetToModel,
  FedtuneError,
  modelToFiles,
  SeededRandom,
  SiteClient,
  socketIoConnector,
  splitDataset,
  withLogitsOutput,
  type Dataset,
  type RunReport,
} from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from './helpers/federation.ts';
import { fedtune } from './helpers/fedtune-cli.ts';
import { testSitePolicy } from './helpers/test-site-policy.ts';

/** Gaussian blobs: `classes` centres in `features` dimensions, examples around them (a learnable tabular task). */
function blobs(features: number, classes: number, n: number, seed: number, centresSeed = 1): Dataset {
  const c = new SeededRandom(centresSeed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => c.normal() * 1.2));
  const r = new SeededRandom(seed);
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    y[i] = k;
    for (let j = 0; j < features; j++) x[i * features + j] = centres[k][j] + r.normal() * 1.5;
  }
  return { x, y, featureShape: [features], numClasses: classes };
}

function toCsv(ds: Dataset): string {
  const f = ds.featureShape[0];
  const header = ['label', ...Array.from({ length: f }, (_, j) => `f${j}`)].join(',');
  const rows = Array.from({ length: ds.y.length }, (_, i) => [ds.y[i], ...Array.from(ds.x.subarray(i * f, (i + 1) * f), (v) => v.toFixed(5))].join(','));
  return `${header}\n${rows.join('\n')}\n`;
}

/** A user's Keras-style classifier ending in softmax, saved as model.json + weights.bin. */
async function saveUserModel(dir: string, features: number, classes: number, softmax = true): Promise<void> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [features], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dense({ units: classes, activation: softmax ? 'softmax' : 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
  const files = await modelToFiles(model);
  model.dispose();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(files.modelJson));
  writeFileSync(join(dir, 'weights.bin'), files.weightsBin);
}

describe('a model that ends in softmax', () => {
  it('is rewritten to output logits: same predictions, the logits whose softmax is the original output', async () => {
    await selectNodeBackend();
    const dir = tempDir();
    await saveUserModel(dir, 30, 2);
    const notices: string[] = [];
    const logits = await loadModelDir(dir, { onNotice: (m) => notices.push(m) });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/softmax was removed/);
    const original = await tf.loadLayersModel(tf.io.fromMemory(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).modelTopology, JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).weightsManifest[0].weights, new Uint8Array(readFileSync(join(dir, 'weights.bin'))).buffer));
    const data = blobs(30, 2, 20, 9);
    const x = tf.tensor2d(data.x, [20, 30]);
    const probs = original.predict(x) as tf.Tensor;
    const out = logits.predict(x) as tf.Tensor;
    const softmaxOfLogits = tf.softmax(out);
    expect(Math.max(...(await tf.abs(tf.sub(probs, softmaxOfLogits)).data()))).toBeLessThan(1e-5);
    expect(Array.from(await tf.argMax(out, 1).data())).toEqual(Array.from(await tf.argMax(probs, 1).data()));
    // Logits are not probabilities: some row does not sum to 1.
    expect(Math.max(...Array.from(await tf.sum(out, 1).data(), (s) => Math.abs(s - 1)))).toBeGreaterThan(1e-3);
    tf.dispose([x, probs, out, softmaxOfLogits]);
    original.dispose();
    logits.dispose();
  });

  it('a model already on logits is left as it is (same topology object, no notice)', () => {
    const topology = { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { name: 'd', activation: 'linear', units: 2 } }] } };
    const r = withLogitsOutput(topology);
    expect(r.topology).toBe(topology);
    expect(r.change).toBeUndefined();
  });

  it('a final Softmax layer becomes the identity; the input topology is not mutated', () => {
    const topology = {
      class_name: 'Sequential',
      config: { layers: [{ class_name: 'Dense', config: { name: 'd', activation: 'relu', units: 2 } }, { class_name: 'Softmax', config: { name: 'sm', axis: -1 } }] },
    };
    const r = withLogitsOutput(topology);
    expect(r.change).toMatch(/"sm" applies softmax/);
    const layers = (r.topology.config as { layers: Array<{ class_name: string; config: Record<string, unknown> }> }).layers;
    expect(layers[1]).toMatchObject({ class_name: 'Activation', config: { name: 'sm', activation: 'linear' } });
    expect(topology.config.layers[1].class_name).toBe('Softmax');
  });

  it('a functional model: the output layer named in output_layers is the one rewritten', () => {
    const topology = {
      class_name: 'Model',
      config: {
        layers: [
          { class_name: 'Dense', config: { name: 'out', activation: 'softmax' } },
          { class_name: 'Dense', config: { name: 'hidden', activation: 'softmax' } },
        ],
        output_layers: [['out', 0, 0]],
      },
    };
    const layers = (withLogitsOutput(topology).topology.config as { layers: Array<{ config: { activation: string } }> }).layers;
    expect(layers.map((l) => l.config.activation)).toEqual(['linear', 'softmax']);
  });

  it('a model with one output unit is refused with a clear config error', async () => {
    await selectNodeBackend();
    const dir = tempDir();
    await saveUserModel(dir, 4, 1, false);
    await expect(loadModelDir(dir)).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/one logit per class.*at least 2 classes/) });
  });
});

describe('data that must fit the model', () => {
  const model = { inputShape: [30], numClasses: 2 };
  it('takes the number of classes from the model', () => {
    expect(fitDatasetToModel({ ...blobs(30, 2, 4, 1), numClasses: 10 }, model).numClasses).toBe(2);
    const same = blobs(30, 2, 4, 1);
    expect(fitDatasetToModel(same, model)).toBe(same);
  });
  it.each([
    ['too many features', blobs(31, 2, 4, 1), /site-x's data has 31 features per example \(shape \[31\]\) but the model expects 30 \(input shape \[30\]\)/],
    ['labels beyond the classes', blobs(30, 5, 10, 1), /site-x's data has labels up to 4 \(5 classes\) but the model outputs 2 classes \(labels 0\.\.1\)/],
    ['a negative label', { ...blobs(30, 2, 4, 1), y: Int32Array.from([0, 1, -1, 0]) }, /negative label \(-1\)/],
  ])('refuses %s with exactly what does not fit', (_name, ds, message) => {
    let error: unknown;
    try {
      fitDatasetToModel(ds, model, "site-x's data");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FedtuneError);
    expect((error as FedtuneError).code).toBe('data');
    expect((error as FedtuneError).message).toMatch(message);
  });
  it('image inputs compare the number of values per example', () => {
    expect(fitDatasetToModel({ ...blobs(784, 10, 10, 1), featureShape: [28, 28] }, { inputShape: [784], numClasses: 10 }).numClasses).toBe(10);
    expect(() => fitDatasetToModel(blobs(784, 10, 10, 1), { inputShape: [28, 28, 1], numClasses: 10 })).not.toThrow();
  });
});

describe('a user model over socket.io', () => {
  it('2 classes, 30 features, softmax output: the federation improves on it; a site whose data has 31 features is named with the reason', async () => {
    const backend = await selectNodeBackend();
    const dir = tempDir();
    await saveUserModel(join(dir, 'model'), 30, 2);
    const coordinator = await startCoordinator({
      runsDir: join(dir, 'runs'),
      model: await loadModelDir(join(dir, 'model')),
      architecture: 'user',
      holdout: blobs(30, 2, 300, 100),
      backend: backend.backend,
      transport: 'socket',
      host: '127.0.0.1',
      config: { runId: 'byo-2', rounds: 3, minSites: 4, seed: 3, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' }, federatedEvaluation: 'never', train: { epochs: 2, batchSize: 16, learningRate: 0.01, optimizer: 'adam', trainable: 'all' } },
    });
    const sites = [1, 2, 3, 4].map((k) => {
      const data = k === 4 ? blobs(31, 2, 120, 10 + k) : blobs(30, 2, 120, 10 + k);
      return new SiteClient({ policy: testSitePolicy(), siteId: `site-${k}`, connector: socketIoConnector({ url: coordinator.url! }), data: splitDataset(data, deriveSeed(3, 'split', `site-${k}`)), backend: backend.backend, runtime: 'node' });
    });
    const runs = sites.map((s) => s.run());
    const report = await coordinator.done;
    const outcomes = await Promise.all(runs);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    expect(report.final!.accuracy).toBeGreaterThan(report.pretrained!.accuracy + 0.1);
    for (const round of report.rounds) expect(round.accepted.map((a) => a.siteId).sort()).toEqual(['site-1', 'site-2', 'site-3']);
    // Named in the first round with the reason; then it has left the run (it never could train the run's model): a
    // round that started within its leave's grace (250 ms) hears the same reason, the last round no longer asks it.
    expect(report.rounds[0].failed.find((f) => f.siteId === 'site-4')?.reason).toMatch(/data: site-4's data has 31 features per example .* the model expects 30/);
    for (const round of report.rounds) for (const f of round.failed.filter((x) => x.siteId === 'site-4')) expect(f.reason).toMatch(/data: site-4's data has 31 features per example/);
    expect(report.rounds.at(-1)!.failed.map((f) => f.siteId)).not.toContain('site-4');
    expect(outcomes[3]).toMatchObject({ completed: false, reason: expect.stringMatching(/^left the run: this site's data does not fit the run's model \(site-4's data has 31 features per example .* the model expects 30/) });
    expect(outcomes.slice(0, 3).map((o) => o.completed)).toEqual([true, true, true]);
  }, 300_000);
});


describe('bring your own model from the command line', () => {
  it('5 classes: fedtune coordinator --model DIR --holdout FILE.csv and three `fedtune client --data FILE.csv` improve on the pretrained accuracy, with tabular robustness', async () => {
    const dir = tempDir();
    await saveUserModel(join(dir, 'model'), 12, 5);
    writeFileSync(join(dir, 'holdout.csv'), toCsv(blobs(12, 5, 300, 200)));
    for (const k of [1, 2, 3]) writeFileSync(join(dir, `site-${k}.csv`), toCsv(blobs(12, 5, 200, 300 + k)));
    let resolveUrl!: (url: string) => void;
    const url = new Promise<string>((r) => (resolveUrl = r));
    const coordinator = fedtune(
      ['coordinator', '--port', '0', '--host', '127.0.0.1', '--model', join(dir, 'model'), '--holdout', join(dir, 'holdout.csv'), '--rounds', '3', '--min-sites', '3', '--epochs', '2', '--lr', '0.01', '--out', join(dir, 'runs'), '--run-id', 'byo-cli', '--federated-eval', 'never'],
      (line) => {
        const m = /listening on (https?:\/\/\S+?);?\s/.exec(`${line} `);
        if (m) resolveUrl(m[1].replace(/;$/, ''));
      },
    );
    const server = await Promise.race([url, coordinator.done.then((d) => Promise.reject(new Error(`coordinator exited ${d.code}: ${d.stderr}${d.stdout}`)))]);
    const clients = [1, 2, 3].map((k) => fedtune(['client', '--server', server, '--site', `site-${k}`, '--data', join(dir, `site-${k}.csv`)]));
    const results = await Promise.all(clients.map((c) => c.done));
    const c = await coordinator.done;
    expect(c.code, c.stderr + c.stdout).toBe(0);
    for (const r of results) expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(c.stdout).toMatch(/softmax was removed/);
    const report = JSON.parse(readFileSync(join(dir, 'runs', 'byo-cli', 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.final!.accuracy).toBeGreaterThan(report.pretrained!.accuracy + 0.1);
    const robustness = report.finalRobustness as { inputKind?: string; epsUnits?: string; corruptions?: Array<{ name: string }> } | undefined;
    expect(robustness?.inputKind).toBe('tabular');
    // Tabular corruptions, and ε in units of each feature's spread.
    expect(robustness?.corruptions?.map((c) => c.name).sort()).toEqual(corruptionNames('tabular').sort());
    expect(robustness?.epsUnits).toBe('feature-std');
  }, 300_000);
});
