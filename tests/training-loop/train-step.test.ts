import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FedtuneError } from '../../shared/src/errors.ts';
import { fitLocal } from '../../shared/src/learning/fit-local.ts';
import { createFusedOptimizer } from '../../shared/src/learning/fused-optimizer.ts';
import { createTrainStep } from '../../shared/src/learning/train-step.ts';
import type { TrainConfig } from '../../shared/src/messages/schemas.ts';
import { readModelWeights } from '../../shared/src/model/model-weights.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { setUpWasm } from '../wasm-kernels/helpers.ts';

beforeAll(setUpWasm);

const FEATURES = 6;
const CLASSES = 3;

function model(seed = 3): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [FEATURES], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  return m;
}

function batch(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new SeededRandom(seed);
  const x = Float32Array.from({ length: n * FEATURES }, () => rng.next());
  const y = Int32Array.from({ length: n }, (_, i) => (x[i * FEATURES]! > 0.5 ? 1 : 0) + (x[i * FEATURES + 1]! > 0.7 ? 1 : 0));
  return { x, y };
}

const weights = (m: tf.LayersModel): Float32Array[] => readModelWeights(m).arrays;
const maxDiff = (a: Float32Array[], b: Float32Array[]): number => Math.max(...a.flatMap((w, i) => Array.from(w, (v, j) => Math.abs(v - b[i]![j]!))));

describe('createTrainStep', () => {
  for (const optimizer of ['sgd', 'momentum', 'adam'] as const) {
    it(`${optimizer}: computeGradients then applyGradients equals step, and both equal tf.train's minimize`, () => {
      const [a, b, c] = [model(), model(), model()];
      const ta = createTrainStep(a, { optimizer, learningRate: 0.05 });
      const tb = createTrainStep(b, { optimizer, learningRate: 0.05 });
      const stock = optimizer === 'sgd' ? tf.train.sgd(0.05) : optimizer === 'momentum' ? tf.train.momentum(0.05, 0.9) : tf.train.adam(0.05);
      const vars = c.trainableWeights.map((w) => w.read() as tf.Variable);
      const start = tf.memory().numTensors;
      for (let s = 0; s < 4; s++) {
        const { x, y } = batch(10, s);
        const stepped = ta.step(x, y, 10);
        const split = tb.computeGradients(x, y, 10);
        expect(split.gradients.map((g) => g.length)).toEqual(vars.map((v) => v.size));
        tb.applyGradients(split.gradients);
        expect(split.loss).toBe(stepped.loss);
        expect(split.correct).toBe(stepped.correct);
        tf.tidy(() => {
          const xt = tf.tensor(x, [10, FEATURES]);
          const yt = tf.oneHot(tf.tensor1d(y, 'int32'), CLASSES).toFloat();
          const cost = stock.minimize(() => tf.losses.softmaxCrossEntropy(yt, c.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar, true, vars)!;
          expect(Math.abs(cost.dataSync()[0]! - stepped.loss)).toBeLessThan(1e-6);
        });
      }
      expect(tf.memory().numTensors).toBe(start + (optimizer === 'sgd' ? 0 : optimizer === 'momentum' ? vars.length : 2 * vars.length));
      expect(maxDiff(weights(a), weights(b))).toBe(0);
      expect(maxDiff(weights(a), weights(c))).toBeLessThan(1e-6);
      expect(maxDiff(weights(a), weights(model()))).toBeGreaterThan(1e-3); // it moved
      ta.dispose();
      tb.dispose();
      stock.dispose();
      tf.dispose([a, b, c].flatMap(() => []));
      [a, b, c].forEach((m) => m.dispose());
    });
  }

  it('the learning rate has its effect: twice the rate moves SGD weights twice as far', () => {
    const { x, y } = batch(8, 1);
    const moved = (lr: number): number => {
      const m = model();
      const before = weights(m);
      const t = createTrainStep(m, { optimizer: 'sgd', learningRate: lr });
      t.step(x, y, 8);
      t.dispose();
      const d = maxDiff(weights(m), before);
      m.dispose();
      return d;
    };
    expect(moved(0.2) / moved(0.1)).toBeCloseTo(2, 4);
  });

  it('uses only the first `count` examples', () => {
    const { x, y } = batch(8, 2);
    const [a, b] = [model(), model()];
    const ta = createTrainStep(a, { optimizer: 'adam', learningRate: 0.01 });
    const tb = createTrainStep(b, { optimizer: 'adam', learningRate: 0.01 });
    const other = Int32Array.from(y, (v, i) => (i >= 5 ? (v + 1) % CLASSES : v));
    expect(ta.step(x, y, 5).loss).toBe(tb.step(x, other, 5).loss);
    expect(maxDiff(weights(a), weights(b))).toBe(0);
    [ta, tb].forEach((t) => t.dispose());
    [a, b].forEach((m) => m.dispose());
  });

  it('does not move a clone of a variable (the update writes new buffers)', () => {
    const m = model();
    const t = createTrainStep(m, { optimizer: 'sgd', learningRate: 0.5 });
    const clone = t.variables[0]!.clone();
    const before = Float32Array.from(clone.dataSync());
    const { x, y } = batch(8, 3);
    t.step(x, y, 8);
    expect(Array.from(clone.dataSync())).toEqual(Array.from(before));
    expect(Array.from(t.variables[0]!.dataSync())).not.toEqual(Array.from(before));
    clone.dispose();
    t.dispose();
    m.dispose();
  });

  it('adds layer regularizers to the loss and the gradient, as model.fit does', () => {
    const plain = model();
    const regularized = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [FEATURES], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), kernelRegularizer: tf.regularizers.l2({ l2: 0.5 }) }),
        tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
      ],
    });
    const { x, y } = batch(8, 4);
    const tp = createTrainStep(plain, { optimizer: 'sgd', learningRate: 0.1 });
    const tr = createTrainStep(regularized, { optimizer: 'sgd', learningRate: 0.1 });
    const kernel = weights(plain)[0]!;
    const l2 = 0.5 * kernel.reduce((s, v) => s + v * v, 0);
    expect(tr.step(x, y, 8).loss - tp.step(x, y, 8).loss).toBeCloseTo(l2, 4);
    expect(maxDiff(weights(plain), weights(regularized))).toBeGreaterThan(1e-4);
    [tp, tr].forEach((t) => t.dispose());
    [plain, regularized].forEach((m) => m.dispose());
  });

  const bad: Array<{ name: string; run: (t: ReturnType<typeof createTrainStep>) => unknown; code: string }> = [
    { name: 'count beyond the labels', run: (t) => t.step(new Float32Array(10 * FEATURES), new Int32Array(4), 5), code: 'shape_mismatch' },
    { name: 'too few input values', run: (t) => t.step(new Float32Array(3 * FEATURES), new Int32Array(4), 4), code: 'shape_mismatch' },
    { name: 'count 0', run: (t) => t.step(new Float32Array(FEATURES), new Int32Array(1), 0), code: 'shape_mismatch' },
    { name: 'a fractional count', run: (t) => t.step(new Float32Array(2 * FEATURES), new Int32Array(2), 1.5), code: 'shape_mismatch' },
    { name: 'a label outside the classes', run: (t) => t.step(new Float32Array(2 * FEATURES), Int32Array.from([0, CLASSES]), 2), code: 'data' },
    { name: 'a negative label', run: (t) => t.step(new Float32Array(2 * FEATURES), Int32Array.from([-1, 0]), 2), code: 'data' },
    { name: 'the wrong number of gradients', run: (t) => t.applyGradients([new Float32Array(FEATURES * 8)]), code: 'shape_mismatch' },
    { name: 'a gradient of the wrong size', run: (t) => t.applyGradients(t.variables.map((v, i) => new Float32Array(i === 1 ? v.size + 1 : v.size))), code: 'shape_mismatch' },
  ];
  for (const backend of ['wasm', 'cpu']) {
    for (const c of bad) {
      it(`${backend}: ${c.name} → FedtuneError '${c.code}', no tensor leaked, weights unchanged`, async () => {
        await tf.setBackend(backend);
        try {
          const m = model();
          const t = createTrainStep(m, { optimizer: 'adam', learningRate: 0.1 });
          const before = weights(m);
          const start = tf.memory().numTensors;
          let caught: unknown;
          try {
            c.run(t);
          } catch (err) {
            caught = err;
          }
          expect(caught).toBeInstanceOf(FedtuneError);
          expect((caught as FedtuneError).code).toBe(c.code);
          expect(tf.memory().numTensors).toBe(start);
          expect(maxDiff(weights(m), before)).toBe(0);
          t.dispose();
          m.dispose();
        } finally {
          await tf.setBackend('wasm');
        }
      });
    }
  }

  it('createFusedOptimizer runs on the heap under wasm and falls back to tfjs elsewhere', async () => {
    const m = model();
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const heap = createFusedOptimizer({ optimizer: 'adam', learningRate: 0.1 }, vars);
    expect(heap.onHeap).toBe(true);
    heap.dispose();
    await tf.setBackend('cpu');
    const stock = createFusedOptimizer({ optimizer: 'adam', learningRate: 0.1 }, vars);
    expect(stock.onHeap).toBe(false);
    stock.dispose();
    await tf.setBackend('wasm');
    m.dispose();
  });
});

describe('fitLocal with the fast loop', () => {
  const data = (() => {
    const { x, y } = batch(64, 9);
    return { x, y, featureShape: [FEATURES], numClasses: CLASSES };
  })();
  const base: TrainConfig = { epochs: 3, batchSize: 16, learningRate: 0.05, optimizer: 'adam', trainable: 'all', seed: 1 };

  it('leaks no tensors over a whole fit, and yields to the event loop between batches', async () => {
    const m = model();
    let timerRuns = 0;
    let batches = 0;
    const start = tf.memory().numTensors;
    const tick = setInterval(() => timerRuns++, 0);
    await fitLocal(m, data, base, () => batches++);
    clearInterval(tick);
    expect(tf.memory().numTensors).toBe(start);
    expect(batches).toBe(12);
    expect(timerRuns).toBeGreaterThan(0);
    m.dispose();
  });

  it('trains only the layers config.trainable names ("head")', async () => {
    const m = model();
    const before = weights(m);
    await fitLocal(m, data, { ...base, trainable: 'head' });
    const after = weights(m);
    expect(maxDiff([after[0]!, after[1]!], [before[0]!, before[1]!])).toBe(0);
    expect(maxDiff([after[2]!], [before[2]!])).toBeGreaterThan(1e-3);
    m.dispose();
  });

  it('the same seed gives the same weights, another seed other weights', async () => {
    const [a, b, c] = [model(), model(), model()];
    await fitLocal(a, data, base);
    await fitLocal(b, data, base);
    await fitLocal(c, data, { ...base, seed: 2 });
    expect(maxDiff(weights(a), weights(b))).toBe(0);
    expect(maxDiff(weights(a), weights(c))).toBeGreaterThan(1e-4);
    [a, b, c].forEach((m) => m.dispose());
  });
});
