import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { subset, type Dataset } from '../../shared/src/data/dataset.ts';
import { fitLocal, type FitProgress } from '../../shared/src/learning/fit-local.ts';
import { inputTensor, modelInputShape, oneHotTensor } from '../../shared/src/learning/dataset-tensors.ts';
import type { TrainConfig } from '../../shared/src/messages/schemas.ts';
import { getArchitecture } from '../../shared/src/model/architectures/registry.ts';
import { readModelWeights } from '../../shared/src/model/model-weights.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { setUpWasm } from '../wasm-kernels/helpers.ts';

beforeAll(setUpWasm);

const CLASSES = 10;

/** 28×28 inputs in [0, 1] with labels that depend on them (so training makes progress). */
function imageData(n: number, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n * 784).map(() => rng.next());
  const y = new Int32Array(n).map((_, i) => Math.floor(x[i * 784 + 100]! * 5) + (x[i * 784 + 500]! > 0.5 ? 5 : 0));
  return { x, y, featureShape: [784], numClasses: CLASSES };
}

const build = (arch: string): tf.LayersModel => getArchitecture(arch).build({ inputShape: [784], numClasses: CLASSES, seed: 5 });

/** The stock loop fitLocal replaced: model.fit one epoch at a time on fitLocal's seeded order. */
async function stockFit(model: tf.LayersModel, data: Dataset, config: TrainConfig): Promise<number[]> {
  const optimizer = config.optimizer === 'sgd' ? tf.train.sgd(config.learningRate) : config.optimizer === 'momentum' ? tf.train.momentum(config.learningRate, 0.9) : tf.train.adam(config.learningRate);
  model.compile({ optimizer, loss: tf.losses.softmaxCrossEntropy, metrics: ['accuracy'] });
  const rng = new SeededRandom(config.seed);
  const losses: number[] = [];
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = rng.shuffle(Array.from({ length: data.y.length }, (_, i) => i));
    const epochData = subset(data, order);
    const xs = inputTensor(epochData, modelInputShape(model));
    const ys = oneHotTensor(epochData);
    await model.fit(xs, ys, {
      epochs: 1,
      batchSize: config.batchSize,
      shuffle: false,
      verbose: 0,
      callbacks: { onBatchEnd: async (_b, logs) => void losses.push(Number(logs?.loss)) },
    });
    tf.dispose([xs, ys]);
  }
  optimizer.dispose();
  return losses;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

const cases: Array<{ backend: string; arch: string; optimizer: TrainConfig['optimizer']; learningRate: number }> = [
  { backend: 'wasm', arch: 'mlp', optimizer: 'sgd', learningRate: 0.1 },
  { backend: 'wasm', arch: 'mlp', optimizer: 'momentum', learningRate: 0.02 },
  { backend: 'wasm', arch: 'mlp', optimizer: 'adam', learningRate: 0.002 },
  { backend: 'wasm', arch: 'cnn', optimizer: 'sgd', learningRate: 0.1 },
  { backend: 'wasm', arch: 'cnn', optimizer: 'momentum', learningRate: 0.02 },
  { backend: 'wasm', arch: 'cnn', optimizer: 'adam', learningRate: 0.002 },
  // Another backend: the fused update falls back on the stock optimizer, the loss and batches stay ours.
  { backend: 'cpu', arch: 'mlp', optimizer: 'adam', learningRate: 0.002 },
  { backend: 'cpu', arch: 'mlp', optimizer: 'momentum', learningRate: 0.02 },
];

describe('fitLocal (plain config) matches stock model.fit', () => {
  for (const c of cases) {
    it(`${c.arch}, ${c.optimizer}, ${c.backend}: every batch loss and the final weights to 1e-5`, async () => {
      await tf.setBackend(c.backend);
      // 100 examples in batches of 32: the last batch is partial (4), as model.fit handles it.
      const data = imageData(100, 11);
      const config: TrainConfig = { epochs: 3, batchSize: 32, learningRate: c.learningRate, optimizer: c.optimizer, trainable: 'all', seed: 9 };
      const ours = build(c.arch);
      const theirs = build(c.arch);
      const progress: FitProgress[] = [];
      const start = tf.memory().numTensors;
      const metrics = await fitLocal(ours, data, config, (p) => progress.push(p));
      expect(tf.memory().numTensors).toBe(start);
      const stock = await stockFit(theirs, data, config);

      expect(progress.length).toBe(3 * 4);
      expect(progress.map((p) => [p.epoch, p.batch])).toEqual([0, 1, 2].flatMap((e) => [1, 2, 3, 4].map((b) => [e, b])));
      expect(maxRelDiff(progress.map((p) => p.loss), stock), `ours ${progress.map((p) => p.loss)} vs ${stock}`).toBeLessThan(1e-5);
      // The epoch's loss is the example-weighted mean of its batches, as model.fit reports it.
      const last = stock.slice(-4);
      expect(metrics.loss).toBeCloseTo((last[0]! * 32 + last[1]! * 32 + last[2]! * 32 + last[3]! * 4) / 100, 5);
      expect(stock[stock.length - 1]).not.toBe(stock[0]); // it trained
      const a = readModelWeights(ours).arrays;
      const b = readModelWeights(theirs).arrays;
      a.forEach((w, i) => expect(maxRelDiff(w, b[i]!), `weights ${i}`).toBeLessThan(1e-5));
      ours.dispose();
      theirs.dispose();
    });
  }
});
