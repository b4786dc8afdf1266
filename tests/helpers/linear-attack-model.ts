import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * The exact attack tests' model: logits = x·W + b with two classes, so the input gradient of the
 * cross-entropy is p₁·(W₁ − W₀) for true class 0 and p₀·(W₀ − W₁) for class 1 — its direction is known in
 * closed form. Registers beforeAll/afterAll (cpu backend, tensors disposed) and returns the live fixture.
 */
export const LINEAR_W = [
  [0, 1],
  [0, -1],
  [0, 2],
  [0, -3],
];

export interface LinearAttackFixture {
  model: tf.LayersModel;
  x: tf.Tensor;
  onehot: tf.Tensor;
}

export function linearAttackModel(inputs: number[][], labels: number[]): LinearAttackFixture {
  const fixture = {} as LinearAttackFixture;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    fixture.model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [LINEAR_W.length] })] });
    fixture.model.setWeights([tf.tensor2d(LINEAR_W), tf.tensor1d([0.3, -0.2])]);
    fixture.x = tf.tensor2d(inputs);
    fixture.onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
  });
  afterAll(() => {
    tf.dispose([fixture.x, fixture.onehot]);
    fixture.model.dispose();
  });
  return fixture;
}

/** Runs an attack, checks it leaks no tensor (its one result aside) and returns the result as rows. */
export function attackRows(run: () => tf.Tensor): number[][] {
  const before = tf.memory().numTensors;
  const out = run();
  expect(tf.memory().numTensors).toBe(before + 1);
  const rows = out.arraySync() as number[][];
  out.dispose();
  return rows;
}

/** Every cell of `actual` equals `expected` to `digits` decimals. */
export function expectRows(actual: number[][], expected: number[][], digits: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(v, `[${i}][${j}]`).toBeCloseTo(expected[i][j], digits)));
}

/** x ↦ round(4x)/4: a staircase whose gradient is zero almost everywhere — the textbook masked gradient. */
export class Quantize extends tf.layers.Layer {
  static className = 'FedtuneTestQuantize';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.div(tf.round(tf.mul(x, 4)), 4));
  }
}
