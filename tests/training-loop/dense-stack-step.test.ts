import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FedtuneError } from '../../shared/src/errors.ts';
import { denseStackStep } from '../../shared/src/learning/dense-stack-step.ts';
import { fitLocal } from '../../shared/src/learning/fit-local.ts';
import { createTrainStep } from '../../shared/src/learning/train-step.ts';
import { getArchitecture } from '../../shared/src/model/architectures/registry.ts';
import { readModelWeights } from '../../shared/src/model/model-weights.ts';
import { seeded, setUpWasm } from '../wasm-kernels/helpers.ts';

/**
 * The Dense-stack step (shared/src/learning/dense-stack-step.ts): which models it takes, and that it trains them
 * as the tape does (createTrainStep with `denseStack: false`, the reference): the same losses, correct counts,
 * gradients and weights after many steps, for every optimizer, frozen layers, odd sizes, partial and growing
 * batches; no tensor left behind.
 */

beforeAll(setUpWasm);

const relu = 'relu' as const;
/** A Sequential Dense stack with seeded weights: dims[0] inputs, ReLU between, linear logits. */
function stack(dims: number[], seed = 1, extra: Partial<Record<'kernelRegularizer' | 'biasRegularizer' | 'kernelConstraint' | 'biasConstraint' | 'activation' | 'useBias', unknown>> = {}): tf.Sequential {
  const m = tf.sequential();
  dims.slice(1).forEach((units, i) => {
    const top = i === dims.length - 2;
    m.add(tf.layers.dense({ ...(i === 0 ? { inputShape: [dims[0]!] } : {}), units, activation: top ? 'linear' : relu, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 50 + i }), ...(top ? {} : extra) } as Parameters<typeof tf.layers.dense>[0]));
  });
  return m;
}

function data(n: number, features: number, classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  const x = seeded(n * features, seed);
  const y = Int32Array.from({ length: n }, (_, i) => Math.floor(((x[i * features]! + 1) / 2) * classes) % classes);
  return { x, y };
}

/** Dense under another class name: the step takes only what it knows by name, whatever fields a layer has. */
const DenseClass = tf.layers.dense({ units: 1 }).constructor as new (args: Parameters<typeof tf.layers.dense>[0]) => tf.layers.Layer;
class NotDense extends DenseClass {
  static className = 'FedtuneTestNotDense';
  override getClassName(): string {
    return 'FedtuneTestNotDense';
  }
}

const variablesOf = (m: tf.LayersModel) => m.trainableWeights.map((w) => w.read() as tf.Variable);
const maxDiff = (a: Float32Array[], b: Float32Array[]): number => Math.max(0, ...a.flatMap((w, i) => Array.from(w, (v, j) => Math.abs(v - b[i]![j]!))));

describe('which models take the Dense-stack step', () => {
  const cases: Array<{ name: string; build: () => tf.LayersModel; takes: boolean }> = [
    { name: "the built-in 'mlp' on flat inputs", build: () => getArchitecture('mlp').build({ inputShape: [784], numClasses: 10, seed: 1 }), takes: true },
    { name: "the built-in 'mlp' on images (Flatten first)", build: () => getArchitecture('mlp').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), takes: true },
    { name: 'a 5-124-64-32-2 tabular network', build: () => stack([5, 124, 64, 32, 2]), takes: true },
    { name: 'one linear layer (logistic regression)', build: () => stack([6, 3]), takes: true },
    { name: 'Dropout at rate 0', build: () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: relu }), tf.layers.dropout({ rate: 0 }), tf.layers.dense({ units: 2 })] }), takes: true },
    { name: "the built-in 'mlp' with dropout", build: () => getArchitecture('mlp').build({ inputShape: [784], numClasses: 10, seed: 1, dropout: 0.2 }), takes: false },
    { name: 'a kernel regularizer', build: () => stack([4, 8, 2], 1, { kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }) }), takes: false },
    { name: 'a tanh activation', build: () => stack([4, 8, 2], 1, { activation: 'tanh' }), takes: false },
    { name: 'a layer without bias', build: () => stack([4, 8, 2], 1, { useBias: false }), takes: false },
    { name: "the built-in 'cnn'", build: () => getArchitecture('cnn').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), takes: false },
    { name: 'Dense on a rank-3 input', build: () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 4], units: 8, activation: relu }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] }), takes: false },
    { name: 'an explicit InputLayer first', build: () => tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [4] }), tf.layers.dense({ units: 8, activation: relu }), tf.layers.dense({ units: 2 })] }), takes: true },
    { name: 'a functional (non-Sequential) Dense stack', build: () => {
      const input = tf.input({ shape: [4] });
      const hidden = tf.layers.dense({ units: 8, activation: relu }).apply(input) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(hidden) as tf.SymbolicTensor });
    }, takes: false },
    { name: 'a channels-first Flatten', build: () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 3], dataFormat: 'channelsFirst' } as Parameters<typeof tf.layers.flatten>[0]), tf.layers.dense({ units: 2 })] }), takes: false },
    { name: 'a bias regularizer', build: () => stack([4, 8, 2], 1, { biasRegularizer: tf.regularizers.l2({ l2: 0.01 }) }), takes: false },
    { name: 'a kernel constraint', build: () => stack([4, 8, 2], 1, { kernelConstraint: tf.constraints.maxNorm({ maxValue: 2 }) }), takes: false },
    { name: 'a bias constraint', build: () => stack([4, 8, 2], 1, { biasConstraint: tf.constraints.nonNeg() }), takes: false },
    { name: 'a layer that computes as Dense but is another class', build: () => tf.sequential({ layers: [new NotDense({ inputShape: [4], units: 8, activation: relu }), tf.layers.dense({ units: 2 })] }), takes: false },
    { name: 'a BatchNormalization layer', build: () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: relu }), tf.layers.batchNormalization(), tf.layers.dense({ units: 2 })] }), takes: false },
  ];
  it.each(cases)('$name: $takes', ({ build, takes }) => {
    const m = build();
    try {
      const direct = denseStackStep(m, variablesOf(m));
      expect(direct !== undefined).toBe(takes);
      direct?.dispose();
      const step = createTrainStep(m, { optimizer: 'adam', learningRate: 0.001 });
      expect(step.usesDenseStack).toBe(takes);
      step.dispose();
      // The option keeps the tape.
      const tape = createTrainStep(m, { optimizer: 'adam', learningRate: 0.001 }, { denseStack: false });
      expect(tape.usesDenseStack).toBe(false);
      tape.dispose();
    } finally {
      m.dispose();
    }
  });

  it('a trainable variable that is not a Dense kernel or bias of the stack keeps the tape', () => {
    const m = stack([4, 8, 2]);
    const stray = tf.variable(tf.zeros([3]));
    try {
      expect(denseStackStep(m, [...variablesOf(m), stray])).toBeUndefined();
    } finally {
      stray.dispose();
      m.dispose();
    }
  });

  it('a Dense on a rank-3 input feeding another Dense (no Flatten), or no Dense layer at all: not a stack', () => {
    const rank3 = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 4], units: 8, activation: relu }), tf.layers.dense({ units: 2 })] });
    const none = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 3] })] });
    try {
      expect(denseStackStep(rank3, variablesOf(rank3))).toBeUndefined();
      expect(denseStackStep(none, [])).toBeUndefined();
    } finally {
      rank3.dispose();
      none.dispose();
    }
  });

  it('the backward pass stops at the lowest layer with a trained weight (frozen layers below it cost no backward work)', () => {
    for (const frozen of [0, 1, 2]) {
      const m = stack([9, 16, 16, 4]);
      m.layers.slice(0, frozen).forEach((l) => (l.trainable = false));
      const step = denseStackStep(m, variablesOf(m))!;
      expect(step.lowestTrainedLayer).toBe(frozen);
      step.dispose();
      m.dispose();
    }
  });

  it('not on the cpu backend', async () => {
    await tf.setBackend('cpu');
    const m = stack([4, 8, 2]);
    try {
      expect(denseStackStep(m, variablesOf(m))).toBeUndefined();
      const step = createTrainStep(m, { optimizer: 'sgd', learningRate: 0.1 });
      expect(step.usesDenseStack).toBe(false);
      step.dispose();
    } finally {
      m.dispose();
      await tf.setBackend('wasm');
    }
  });
});

describe('trains as the tape does', () => {
  const runs: Array<{ name: string; dims: number[]; optimizer: 'sgd' | 'momentum' | 'adam'; batches: number[]; frozen?: number; lr?: number }> = [
    { name: '5-124-64-32-2, Adam, batches of 30', dims: [5, 124, 64, 32, 2], optimizer: 'adam', batches: [30, 30, 30, 30, 30, 30, 30, 30, 30, 21] },
    { name: '784-128-10, Adam, batches of 32 and a partial last one', dims: [784, 128, 10], optimizer: 'adam', batches: [32, 32, 32, 17] },
    { name: 'odd sizes 7-13-5-3 (no multiple of 4), momentum, batch growing past the workspace', dims: [7, 13, 5, 3], optimizer: 'momentum', batches: [3, 8, 1, 40, 40, 2], lr: 0.05 },
    { name: '6-3 (one layer), SGD', dims: [6, 3], optimizer: 'sgd', batches: [10, 10, 10, 4], lr: 0.2 },
    { name: '9-16-16-4, the lower layer frozen (head and middle train), Adam', dims: [9, 16, 16, 4], optimizer: 'adam', batches: [12, 12, 12, 12], frozen: 1, lr: 0.01 },
    { name: '9-16-16-4, only the head trains, SGD', dims: [9, 16, 16, 4], optimizer: 'sgd', batches: [12, 12, 12], frozen: 2, lr: 0.1 },
  ];
  it.each(runs)('$name', ({ dims, optimizer, batches, frozen = 0, lr = 0.003 }) => {
    const classes = dims[dims.length - 1]!;
    const total = batches.reduce((a, b) => a + b, 0);
    const { x, y } = data(total, dims[0]!, classes, 7);
    const [a, b] = [stack(dims), stack(dims)];
    for (const m of [a, b]) m.layers.slice(0, frozen).forEach((l) => (l.trainable = false));
    const start = tf.memory().numTensors;
    const before = readModelWeights(a).arrays;
    const fast = createTrainStep(a, { optimizer, learningRate: lr });
    const tape = createTrainStep(b, { optimizer, learningRate: lr }, { denseStack: false });
    expect(fast.usesDenseStack).toBe(true);
    expect(tape.usesDenseStack).toBe(false);
    let at = 0;
    for (const count of batches) {
      const xs = x.subarray(at * dims[0]!);
      const ys = y.subarray(at);
      // The split form on one step in three, the fused step otherwise.
      if (at % 3 === 0) {
        const g1 = fast.computeGradients(xs, ys, count);
        const g2 = tape.computeGradients(xs, ys, count);
        expect(Math.abs(g1.loss - g2.loss)).toBeLessThanOrEqual(1e-6);
        expect(g1.correct).toBe(g2.correct);
        expect(maxDiff(g1.gradients, g2.gradients)).toBeLessThanOrEqual(1e-6);
        fast.applyGradients(g1.gradients);
        tape.applyGradients(g2.gradients);
      } else {
        const s1 = fast.step(xs, ys, count);
        const s2 = tape.step(xs, ys, count);
        expect(Math.abs(s1.loss - s2.loss)).toBeLessThanOrEqual(1e-6);
        expect(s1.correct).toBe(s2.correct);
      }
      at += count;
    }
    const after = readModelWeights(a).arrays;
    expect(maxDiff(after, readModelWeights(b).arrays)).toBeLessThanOrEqual(1e-5);
    // Frozen layers stay bit for bit; every trained one moved.
    after.forEach((w, i) => {
      const layer = Math.floor(i / 2);
      if (layer < frozen) expect(Array.from(w)).toEqual(Array.from(before[i]!));
      else expect(maxDiff([w], [before[i]!])).toBeGreaterThan(0);
    });
    fast.dispose();
    tape.dispose();
    expect(tf.memory().numTensors).toBe(start);
    a.dispose();
    b.dispose();
  });

  it.each(['kernel', 'bias'] as const)('the first layer with only its %s frozen: the other weight gets the tape\'s gradients, the frozen one stays', (frozenWeight) => {
    const dims = [9, 16, 4];
    const { x, y } = data(36, 9, 4, 3);
    const [a, b] = [stack(dims), stack(dims)];
    type DenseVariables = Record<'kernel' | 'bias', { trainable: boolean; read(): tf.Tensor }>;
    // A layer's weights freeze one by one through their LayerVariable (tfjs leaves it out of trainableWeights).
    for (const m of [a, b]) (m.layers[0] as unknown as DenseVariables)[frozenWeight].trainable = false;
    // Kernel then bias per layer, by layer (the models' weight lists put trainable weights first).
    const weightsOf = (m: tf.LayersModel) => m.layers.flatMap((l) => (['kernel', 'bias'] as const).map((k) => (l as unknown as DenseVariables)[k].read().dataSync().slice() as Float32Array));
    expect(a.trainableWeights).toHaveLength(3);
    const direct = denseStackStep(a, variablesOf(a))!;
    expect(direct.lowestTrainedLayer).toBe(0);
    direct.dispose();
    const before = weightsOf(a);
    const fast = createTrainStep(a, { optimizer: 'sgd', learningRate: 0.1 });
    const tape = createTrainStep(b, { optimizer: 'sgd', learningRate: 0.1 }, { denseStack: false });
    expect(fast.usesDenseStack).toBe(true);
    for (let at = 0; at < 36; at += 12) {
      const g1 = fast.computeGradients(x.subarray(at * 9), y.subarray(at), 12);
      const g2 = tape.computeGradients(x.subarray(at * 9), y.subarray(at), 12);
      expect(g1.gradients).toHaveLength(3);
      expect(maxDiff(g1.gradients, g2.gradients)).toBeLessThanOrEqual(1e-6);
      fast.applyGradients(g1.gradients);
      tape.applyGradients(g2.gradients);
    }
    const after = weightsOf(a);
    expect(maxDiff(after, weightsOf(b))).toBeLessThanOrEqual(1e-5);
    const frozenIndex = frozenWeight === 'kernel' ? 0 : 1;
    after.forEach((w, i) => (i === frozenIndex ? expect(Array.from(w)).toEqual(Array.from(before[i]!)) : expect(maxDiff([w], [before[i]!])).toBeGreaterThan(0)));
    fast.dispose();
    tape.dispose();
    a.dispose();
    b.dispose();
  });

  it('a batch of images through Flatten trains as the tape does', () => {
    const build = () => getArchitecture('mlp').build({ inputShape: [28, 28, 1], numClasses: 10, seed: 4 });
    const [a, b] = [build(), build()];
    const { x, y } = data(64, 784, 10, 3);
    const fast = createTrainStep(a, { optimizer: 'adam', learningRate: 0.01 });
    const tape = createTrainStep(b, { optimizer: 'adam', learningRate: 0.01 }, { denseStack: false });
    for (let s = 0; s < 2; s++) {
      expect(Math.abs(fast.step(x.subarray(s * 32 * 784), y.subarray(s * 32), 32).loss - tape.step(x.subarray(s * 32 * 784), y.subarray(s * 32), 32).loss)).toBeLessThanOrEqual(1e-6);
    }
    expect(maxDiff(readModelWeights(a).arrays, readModelWeights(b).arrays)).toBeLessThanOrEqual(1e-5);
    fast.dispose();
    tape.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('fitLocal', () => {
  it('a plain config trains a Dense stack to the same metrics and weights with and without the tape (denseStack option)', async () => {
    const { x, y } = data(200, 5, 2, 11);
    const train = { x, y, numClasses: 2, featureShape: [5] };
    const config = { epochs: 3, batchSize: 30, learningRate: 0.003, optimizer: 'adam' as const, trainable: 'all' as const, seed: 5 };
    const [a, b] = [stack([5, 124, 64, 32, 2]), stack([5, 124, 64, 32, 2])];
    const fast = await fitLocal(a, train, config);
    const tape = await fitLocal(b, train, config, undefined, { denseStack: false });
    expect(Math.abs(fast.loss - tape.loss)).toBeLessThanOrEqual(1e-6);
    expect(fast.accuracy).toBe(tape.accuracy);
    expect(maxDiff(readModelWeights(a).arrays, readModelWeights(b).arrays)).toBeLessThanOrEqual(1e-5);
    a.dispose();
    b.dispose();
  });
});

describe('bad input and memory', () => {
  it('a label outside the classes → FedtuneError data, weights unchanged; a short batch → shape_mismatch', () => {
    const m = stack([4, 8, 3]);
    const step = createTrainStep(m, { optimizer: 'adam', learningRate: 0.1 });
    expect(step.usesDenseStack).toBe(true);
    const before = readModelWeights(m).arrays;
    const x = seeded(8, 1);
    expect(() => step.step(x, Int32Array.from([0, 3]), 2)).toThrow(FedtuneError);
    expect(() => step.step(x, Int32Array.from([0, -1]), 2)).toThrow(expect.objectContaining({ code: 'data' }));
    expect(() => step.step(x, Int32Array.from([0, 1, 2]), 3)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(maxDiff(readModelWeights(m).arrays, before)).toBe(0);
    step.dispose();
    m.dispose();
  });

  it('many steps leave no tensor and no heap behind once disposed', () => {
    const m = stack([5, 124, 64, 32, 2]);
    const { x, y } = data(300, 5, 2, 9);
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    // The workspace is backend data without a tensor: counted by the backend, not by tf.memory().
    const dataIds = tf.engine().backend.numDataIds();
    const step = createTrainStep(m, { optimizer: 'adam', learningRate: 0.001 });
    for (let e = 0; e < 5; e++) for (let s = 0; s < 10; s++) step.step(x.subarray(s * 30 * 5), y.subarray(s * 30), 30);
    // Batches that outgrow the workspace: each larger one replaces it (the old one freed).
    for (const count of [40, 60, 61, 100, 8]) step.step(x, y, count);
    step.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    // A step disposed before it ever ran (no workspace yet) disposes cleanly too.
    createTrainStep(m, { optimizer: 'adam', learningRate: 0.001 }).dispose();
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    m.dispose();
  });
});
