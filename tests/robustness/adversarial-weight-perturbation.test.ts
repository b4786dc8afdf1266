import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdversarialPlan } from '../../shared/src/learning/adversarial-plan.ts';
import { perturbWeights } from '../../shared/src/learning/adversarial-weight-perturbation.ts';
import { createFusedOptimizer } from '../../shared/src/learning/fused-optimizer.ts';
import { trainStep, type StepContext } from '../../shared/src/learning/robust-step.ts';
import type { TrainConfig } from '../../shared/src/messages/schemas.ts';
import { fgsm } from '../../shared/src/robustness/attacks/fgsm.ts';
import { selectNodeBackend } from '../../shared/src/node/select-backend.ts';

// AWP (Wu et al. 2020) by hand: the perturbation of each weight matrix, what is left alone, the exact restore,
// and one training step's update against the same step computed from its definition.

beforeAll(async () => {
  await selectNodeBackend();
});

/** A 3 → 4 → 2 dense model with fixed weights (no randomness anywhere). */
function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'tanh' }), tf.layers.dense({ units: 2 })],
  });
  model.setWeights([
    tf.tensor2d([[0.2, -0.1, 0.4, 0.3], [-0.5, 0.25, 0.1, -0.2], [0.3, 0.6, -0.4, 0.1]]),
    tf.tensor1d([0.05, -0.02, 0.01, 0]),
    tf.tensor2d([[0.7, -0.3], [-0.2, 0.5], [0.4, 0.1], [-0.6, 0.2]]),
    tf.tensor1d([0.1, -0.1]),
  ]);
  return model;
}

const x = () => tf.tensor2d([[0.1, 0.9, 0.3], [0.8, 0.2, 0.5], [0.4, 0.4, 0.7]]);
const y = () => tf.oneHot(tf.tensor1d([0, 1, 1], 'int32'), 2);

function ceOf(model: tf.LayersModel, input: tf.Tensor, onehot: tf.Tensor): () => tf.Scalar {
  return () => tf.losses.softmaxCrossEntropy(onehot, model.apply(input, { training: true }) as tf.Tensor) as tf.Scalar;
}

const varsOf = (model: tf.LayersModel) => model.trainableWeights.map((w) => w.read() as tf.Variable);

/** Runs `body` with the tiny model, its batch and its trainable variables, and disposes them after. */
function withTinyModel(body: (t: { model: tf.LayersModel; input: tf.Tensor; onehot: tf.Tensor; vars: tf.Variable[] }) => void): void {
  const model = tinyModel();
  const [input, onehot] = [x(), y()];
  try {
    body({ model, input, onehot, vars: varsOf(model) });
  } finally {
    tf.dispose([input, onehot]);
    model.dispose();
  }
}
const valuesOf = (vars: readonly tf.Variable[]) => vars.map((v) => Float32Array.from(v.dataSync()));
const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

describe('perturbWeights', () => {
  it('moves each weight matrix by γ·‖W‖·g/‖g‖ (g its loss gradient) and leaves the biases', () => {
    withTinyModel(({ model, input, onehot, vars }) => {
    const before = valuesOf(vars);
    const { grads } = tf.variableGrads(ceOf(model, input, onehot), vars);
    const g = vars.map((v) => Float32Array.from(grads[v.name].dataSync()));
    tf.dispose(Object.values(grads));
    const gamma = 0.05;
    const p = perturbWeights(vars, gamma, ceOf(model, input, onehot));
    const after = valuesOf(vars);
    expect(p.relative).toEqual([gamma, 0, gamma, 0]);
    for (const i of [0, 2]) {
      const scale = (gamma * norm(before[i])) / norm(g[i]);
      after[i].forEach((v, j) => expect(v).toBeCloseTo(before[i][j] + scale * g[i][j], 6));
      // ‖v‖ = γ‖W‖: the move is relative to the layer's own size.
      const moved = Array.from(after[i], (v, j) => v - before[i][j]);
      expect(norm(moved) / norm(before[i])).toBeCloseTo(gamma, 5);
    }
    for (const i of [1, 3]) expect(after[i]).toEqual(before[i]);
    // An ascent step: the loss at the perturbed weights is higher.
    const perturbedLoss = tf.tidy(() => ceOf(model, input, onehot)().dataSync()[0]);
    p.restore();
    const loss = tf.tidy(() => ceOf(model, input, onehot)().dataSync()[0]);
    expect(perturbedLoss).toBeGreaterThan(loss);
    });
  });

  it('restores every variable bit for bit, once, and leaks no tensors', () => {
    withTinyModel(({ model, input, onehot, vars }) => {
    const before = valuesOf(vars);
    const tensors = tf.memory().numTensors;
    const p = perturbWeights(vars, 0.3, ceOf(model, input, onehot));
    expect(valuesOf(vars)[0]).not.toEqual(before[0]);
    p.restore();
    expect(valuesOf(vars)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    p.restore();
    expect(valuesOf(vars)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    });
  });

  it('a restore after the weights moved on (the optimizer step) leaves them: it restores once', () => {
    withTinyModel(({ model, input, onehot, vars }) => {
    const p = perturbWeights(vars, 0.3, ceOf(model, input, onehot));
    p.restore();
    vars[0].assign(tf.fill([3, 4], 0.5));
    p.restore();
    expect(Array.from(vars[0].dataSync())).toEqual(new Array(12).fill(0.5));
    });
  });

  it('puts back the variables it had moved when moving a later one fails, and rethrows', () => {
    withTinyModel(({ model, input, onehot, vars }) => {
    const before = valuesOf(vars);
    const tensors = tf.memory().numTensors;
    const assign = vars[2].assign.bind(vars[2]);
    vars[2].assign = () => {
      throw new Error('assign failed');
    };
    expect(() => perturbWeights(vars, 0.3, ceOf(model, input, onehot))).toThrow('assign failed');
    vars[2].assign = assign;
    expect(valuesOf(vars)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    });
  });

  it('γ 0 moves nothing and runs no loss; a matrix with zero weights or zero gradient stays put', () => {
    withTinyModel(({ model, input, onehot, vars }) => {
    let calls = 0;
    const p0 = perturbWeights(vars, 0, () => {
      calls++;
      return tf.scalar(0);
    });
    expect([calls, p0.relative]).toEqual([0, [0, 0, 0, 0]]);
    vars[2].assign(tf.zeros([4, 2]));
    const before = valuesOf(vars);
    // The last layer's kernel is zero: its own move is 0 (‖W‖ = 0); the first layer's gradient is then zero too.
    const p = perturbWeights(vars, 0.1, ceOf(model, input, onehot));
    expect(p.relative).toEqual([0, 0, 0, 0]);
    expect(valuesOf(vars)).toEqual(before);
    p.restore();
    });
  });
});

describe('trainStep with AWP', () => {
  const config: TrainConfig = { epochs: 1, batchSize: 3, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 1 };
  const plan = (awp: number): AdversarialPlan => ({ method: 'pgd', share: 1, attack: fgsm, eps: 0.1, steps: 1, stepSize: 0.1, beta: 6, unitScale: 1, awp, attackLoss: 'ce' });
  function step(awp: number): Float32Array[] {
    const model = tinyModel();
    const vars = varsOf(model);
    const optimizer = createFusedOptimizer(config, vars);
    const ctx: StepContext = { model, optimizer, config, vars, clipMin: 0, clipMax: 1, adversarial: plan(awp) };
    const [input, onehot] = [x(), y()];
    try {
      trainStep(ctx, input, onehot);
      return valuesOf(vars);
    } finally {
      optimizer.dispose();
      tf.dispose([input, onehot]);
      model.dispose();
    }
  }

  it('applies the gradient taken at the perturbed weights to the unperturbed ones (SGD: W − lr·∇L(W + v))', () => {
    const gamma = 0.2;
    const model = tinyModel();
    const vars = varsOf(model);
    const [input, onehot] = [x(), y()];
    const start = valuesOf(vars);
    const p = perturbWeights(vars, gamma, ceOf(model, input, onehot));
    const { grads } = tf.variableGrads(ceOf(model, input, onehot), vars);
    const g = vars.map((v) => Float32Array.from(grads[v.name].dataSync()));
    tf.dispose(Object.values(grads));
    p.restore();
    tf.dispose([input, onehot]);
    model.dispose();
    const want = start.map((w, i) => w.map((v, j) => v - config.learningRate * g[i][j]));
    const got = step(gamma);
    got.forEach((w, i) => w.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 6)));
    // …which is not the plain step.
    const plain = step(0);
    expect(Math.max(...got.flatMap((w, i) => Array.from(w, (v, j) => Math.abs(v - plain[i][j]))))).toBeGreaterThan(1e-4);
  });

  it('γ 0 is the plain step, bit for bit', () => {
    const model = tinyModel();
    const vars = varsOf(model);
    const [input, onehot] = [x(), y()];
    const start = valuesOf(vars);
    const { grads } = tf.variableGrads(ceOf(model, input, onehot), vars);
    const g = vars.map((v) => Float32Array.from(grads[v.name].dataSync()));
    tf.dispose(Object.values(grads));
    tf.dispose([input, onehot]);
    model.dispose();
    const got = step(0);
    got.forEach((w, i) => w.forEach((v, j) => expect(v).toBeCloseTo(start[i][j] - config.learningRate * g[i][j], 6)));
  });
});
