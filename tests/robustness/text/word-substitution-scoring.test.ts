import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateTextAttack, fitLocal, nearestNeighbourCandidates, SeededRandom, wordSubstitutionAttack, type CandidateTable, type Dataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { syntheticTextData, syntheticTextModel } from './synthetic-text-task.ts';

/**
 * The attack's default scoring ('dot': the gradient read once, float32 dot products for open positions) against
 * the former tensor path kept as the reference ('gather'): the same swaps, the same results, bit for bit, on a
 * trained model and on a conv model of the bench's shape (fixed seeds).
 */
let model: tf.Sequential;
let conv: tf.Sequential;
let test: Dataset;
let candidates: CandidateTable;

beforeAll(async () => {
  await selectNodeBackend();
  model = syntheticTextModel(1);
  candidates = nearestNeighbourCandidates(model.layers[0].getWeights()[0] as tf.Tensor2D, 6, 1);
  await fitLocal(model, syntheticTextData(400, 1), { epochs: 8, batchSize: 32, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 3 });
  test = syntheticTextData(120, 2);
  conv = tf.sequential();
  conv.add(tf.layers.embedding({ inputDim: 400, outputDim: 16, inputLength: 40, embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: 1 }) }));
  conv.add(tf.layers.conv1d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  conv.add(tf.layers.globalMaxPooling1d());
  conv.add(tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
}, 60_000);

afterAll(() => {
  model.dispose();
  conv.dispose();
});

function expectSameAttack(m: tf.LayersModel, ids: Int32Array, labels: Int32Array, options: Parameters<typeof wordSubstitutionAttack>[3]) {
  const dot = wordSubstitutionAttack(m, ids, labels, { ...options, scoring: 'dot' });
  const reference = wordSubstitutionAttack(m, ids, labels, { ...options, scoring: 'gather' });
  expect(dot).toEqual(reference);
  expect(wordSubstitutionAttack(m, ids, labels, options)).toEqual(reference);
  return reference;
}

describe('word-substitution scoring: the fast path makes the reference path\'s attack', () => {
  it.each([1, 2, 4])('trained model, budget %i words: identical adversarial ids, successes and counts', (budget) => {
    const r = expectSameAttack(model, Int32Array.from(test.x), test.y, { budget, candidates, batchSize: 50 });
    // Not a vacuous equality: the attack swaps words and flips examples.
    expect(r.replaced.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(r.success.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('conv model with random weights and 3 classes, a share budget, labels from its own predictions', () => {
    const rng = new SeededRandom(7);
    const n = 60;
    const ids = new Int32Array(n * 40);
    for (let i = 0; i < n; i++) {
      const len = 10 + rng.int(31);
      for (let p = 0; p < len; p++) ids[i * 40 + p] = 2 + rng.int(398);
    }
    const labels = tf.tidy(() => Int32Array.from(tf.argMax(conv.predict(tf.tensor2d(ids, [n, 40], 'float32')) as tf.Tensor, 1).dataSync()));
    const table = nearestNeighbourCandidates(conv.layers[0].getWeights()[0] as tf.Tensor2D, 8, 1);
    const r = expectSameAttack(conv, ids, labels, { budget: 0.2, budgetUnit: 'share', candidates: table, batchSize: 25 });
    expect(r.success.reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
    expect(evaluateTextAttack(conv, { x: Float32Array.from(ids), y: labels, featureShape: [40], numClasses: 3 }, [1, 3], { candidates: table })).toEqual(
      evaluateTextAttack(conv, { x: Float32Array.from(ids), y: labels, featureShape: [40], numClasses: 3 }, [1, 3], { candidates: table, scoring: 'gather' }),
    );
  });

  it('leaks no tensors on either path; an unknown scoring is a config error', () => {
    const ids = Int32Array.from(test.x).subarray(0, 8 * test.featureShape[0]);
    const labels = test.y.subarray(0, 8);
    wordSubstitutionAttack(model, ids, labels, { budget: 2, candidates });
    const before = tf.memory().numTensors;
    wordSubstitutionAttack(model, ids, labels, { budget: 2, candidates, scoring: 'dot' });
    wordSubstitutionAttack(model, ids, labels, { budget: 2, candidates, scoring: 'gather' });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => wordSubstitutionAttack(model, ids, labels, { budget: 1, candidates, scoring: 'fast' as 'dot' })).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining('"fast"') }));
  });
});
