import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ChaChaRandom,
  composeDpSgd,
  computeEpsilon,
  dpSgdSchedule,
  FitResult,
  fitLocal,
  FedtuneError,
  RdpAccountant,
  readModelWeights,
  SeededRandom,
  TrainConfig,
  type Dataset,
} from '@fedtune/shared';
import { dpSgdStep } from '../shared/src/learning/dp-sgd-step.ts';
import { createFusedOptimizer } from '../shared/src/learning/fused-optimizer.ts';
import type { StepContext } from '../shared/src/learning/robust-step.ts';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTestFederation } from './helpers/federation.ts';

const FEATURES = 4;
const CLASSES = 3;
const base: TrainConfig = { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 3 };

function tinyData(n: number, seed = 1): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n * FEATURES).map(() => rng.next());
  const y = new Int32Array(n).map((_, i) => (x[i * FEATURES] + x[i * FEATURES + 1] > 1 ? 1 : 0) + (x[i * FEATURES + 2] > 0.7 ? 1 : 0));
  return { x, y, featureShape: [FEATURES], numClasses: CLASSES };
}

/** A two-layer MLP on logits with fixed initial weights (the same for every call). */
function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [FEATURES], units: 6, activation: 'relu' }), tf.layers.dense({ units: CLASSES })],
  });
  const rng = new SeededRandom(7);
  const init = model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => rng.normal() * 0.5), w.shape));
  model.setWeights(init);
  tf.dispose(init);
  return model;
}

function weights(model: tf.LayersModel): Float32Array[] {
  return readModelWeights(model).arrays;
}

function distance(a: Float32Array[], b: Float32Array[]): number {
  let s = 0;
  a.forEach((w, i) => w.forEach((v, j) => (s += (v - b[i][j]) ** 2)));
  return Math.sqrt(s);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((w, i) => w.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

const seeded = (k: number) => new ChaChaRandom(new Uint8Array(32).fill(k));

beforeAll(async () => {
  await selectNodeBackend();
});

describe('DP-SGD config and messages', () => {
  it('dpSgd is optional in TrainConfig and validated; privacy survives FitResult parsing', () => {
    expect(TrainConfig.parse(base)).toEqual(base);
    const dp = { ...base, dpSgd: { clip: 1, noiseMultiplier: 1.1, delta: 1e-6 } };
    expect(TrainConfig.parse(dp)).toEqual(dp);
    expect(() => TrainConfig.parse({ ...base, dpSgd: { clip: 0, noiseMultiplier: 1 } })).toThrow();
    expect(() => TrainConfig.parse({ ...base, dpSgd: { clip: 1, noiseMultiplier: -1 } })).toThrow();
    const privacy = { epsilon: 1.5, delta: 1e-5, steps: 10, samplingRate: 0.1, noiseMultiplier: 1 };
    const result = FitResult.parse({ runId: 'r', round: 0, siteId: 's', weights: new Uint8Array(4), numExamples: 3, metrics: { loss: 1, accuracy: 0.5, privacy }, durationMs: 1 });
    expect(result.metrics.privacy).toEqual(privacy);
  });

  it('schedules whole batches with q = batch / n', () => {
    expect(dpSgdSchedule(100, 100, 32)).toEqual({ batches: 3, batchSize: 32, samplingRate: 0.32 });
    expect(dpSgdSchedule(5, 50, 32)).toEqual({ batches: 1, batchSize: 5, samplingRate: 0.1 });
  });
});

describe('DP-SGD training step', () => {
  // Full batches: DP-SGD samples its order from the site's CSPRNG (epoch-order.ts), plain SGD from the seed; a batch of all 32 examples is the same set either way.
  it('with noise 0 and a huge clip matches plain SGD (full batches: the same examples in every step)', async () => {
    const data = tinyData(32);
    const plain = tinyModel();
    const dp = tinyModel();
    const full = { ...base, batchSize: 32 };
    await fitLocal(plain, data, full);
    const m = await fitLocal(dp, data, { ...full, dpSgd: { clip: 1e6, noiseMultiplier: 0 } });
    expect(maxAbsDiff(weights(plain), weights(dp))).toBeLessThan(1e-5);
    expect(m.dpSgd).toEqual({ steps: 2, samplingRate: 1, noiseMultiplier: 0, clip: 1e6 });
    plain.dispose();
    dp.dispose();
  });

  it('with a tiny clip every step moves the weights by at most lr·C', () => {
    const data = tinyData(32, 2);
    const model = tinyModel();
    const lr = 0.5;
    const clip = 1e-3;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const optimizer = createFusedOptimizer({ optimizer: 'sgd', learningRate: lr }, vars);
    const ctx: StepContext = { model, optimizer, config: { ...base, learningRate: lr }, vars, clipMin: 0, clipMax: 1 };
    for (let b = 0; b < 4; b++) {
      const before = weights(model);
      const x = tf.tensor(data.x.subarray(b * 8 * FEATURES, (b + 1) * 8 * FEATURES), [8, FEATURES]);
      const onehot = tf.oneHot(tf.tensor1d(data.y.subarray(b * 8, (b + 1) * 8), 'int32'), CLASSES).toFloat();
      dpSgdStep(ctx, x, onehot, { clip, noiseMultiplier: 0, noise: seeded(1) });
      tf.dispose([x, onehot]);
      const moved = distance(before, weights(model));
      expect(moved).toBeGreaterThan(0);
      expect(moved).toBeLessThanOrEqual(lr * clip * (1 + 1e-4));
    }
    optimizer.dispose();
    model.dispose();
  });

  it('with noise the update differs, is reproducible from a seeded source, and ε equals the accountant', async () => {
    const data = tinyData(32, 3);
    const config: TrainConfig = { ...base, dpSgd: { clip: 1, noiseMultiplier: 1.1 } };
    const quiet = tinyModel();
    await fitLocal(quiet, data, { ...config, dpSgd: { clip: 1, noiseMultiplier: 0 } });
    const a = tinyModel();
    const b = tinyModel();
    const c = tinyModel();
    const sampling = new Uint8Array(32).fill(4);
    const m = await fitLocal(a, data, config, undefined, { dpSgdNoise: seeded(5), dpSgdSampling: sampling });
    await fitLocal(b, data, config, undefined, { dpSgdNoise: seeded(5), dpSgdSampling: sampling });
    await fitLocal(c, data, config); // OS randomness
    expect(distance(weights(a), weights(quiet))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(weights(a), weights(b))).toBe(0);
    expect(distance(weights(a), weights(c))).toBeGreaterThan(1e-3);
    const privacy = composeDpSgd(new RdpAccountant(), m.dpSgd!, 1e-5)!;
    const expected = computeEpsilon({ samplingRate: 8 / 32, noiseMultiplier: 1.1, steps: 8, delta: 1e-5 }).epsilon;
    expect(privacy).toMatchObject({ delta: 1e-5, steps: 8, samplingRate: 0.25, noiseMultiplier: 1.1 });
    expect(privacy.epsilon).toBeCloseTo(expected, 10);
    expect(composeDpSgd(new RdpAccountant(), { ...m.dpSgd!, noiseMultiplier: 0 })).toBeUndefined();
    for (const x of [quiet, a, b, c]) x.dispose();
  });

  it('refuses early stopping (validation records outside the accounting)', async () => {
    const model = tinyModel();
    await expect(fitLocal(model, tinyData(16), { ...base, dpSgd: { clip: 1, noiseMultiplier: 1 }, earlyStopping: { patience: 1 } }, undefined, { validation: tinyData(8) })).rejects.toThrow(FedtuneError);
    model.dispose();
  });

  it('leaks no tensors (with noise, weight decay and FedProx)', async () => {
    const data = tinyData(40, 4);
    const model = tinyModel();
    await fitLocal(model, data, { ...base, epochs: 1, dpSgd: { clip: 1, noiseMultiplier: 1 } }); // warm-up (optimizer slots, kernels)
    const before = tf.memory().numTensors;
    await fitLocal(model, data, { ...base, optimizer: 'adam', dpSgd: { clip: 0.5, noiseMultiplier: 1 }, weightDecay: 1e-3, proximalMu: 0.1 });
    await fitLocal(model, data, { ...base, dpSgd: { clip: 0.5, noiseMultiplier: 1 } });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('DP-SGD in a run', () => {
  it('each site reports its cumulative ε after every round; it lands in report.rounds[].accepted[]', async () => {
    const batchSize = 10;
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 2,
      transport: 'memory',
      maxSiteExamples: 60,
      config: {
        federatedEvaluation: 'never',
        train: { epochs: 1, batchSize, learningRate: 0.05, optimizer: 'sgd', trainable: 'all', dpSgd: { clip: 1, noiseMultiplier: 1.2, delta: 1e-5 } },
      },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status).toBe('complete');
    for (const [r, round] of report.rounds.entries()) {
      expect(round.accepted.length).toBe(2);
      for (const a of round.accepted) {
        const n = a.numExamples;
        const steps = (r + 1) * Math.floor(n / batchSize);
        const expected = computeEpsilon({ samplingRate: batchSize / n, noiseMultiplier: 1.2, steps, delta: 1e-5 }).epsilon;
        expect(a.epsilon).toBeCloseTo(expected, 8);
      }
    }
    expect(report.rounds[1].accepted[0].epsilon!).toBeGreaterThan(report.rounds[0].accepted[0].epsilon!);
  });
});
