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

/** The former candidate table (every ordered pair computed, one word's list at a time), kept as the reference. */
function referenceCandidates(matrix: Float32Array, vocab: number, dim: number, k: number, maxCosineDistance: number): Int32Array {
  const take = Math.min(k, Math.max(0, vocab - 1));
  const neighbours = new Int32Array(vocab * k).fill(-1);
  const unit = Float32Array.from(matrix);
  const zero = new Uint8Array(vocab);
  for (let w = 0; w < vocab; w++) {
    let norm = 0;
    for (let q = 0; q < dim; q++) norm += unit[w * dim + q] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) zero[w] = 1;
    else for (let q = 0; q < dim; q++) unit[w * dim + q] /= norm;
  }
  const bestSim = new Float64Array(take);
  const bestId = new Int32Array(take);
  for (let w = 0; w < vocab; w++) {
    if (zero[w]) continue;
    let found = 0;
    for (let v = 0; v < vocab; v++) {
      if (v === w || zero[v]) continue;
      let sim = 0;
      for (let q = 0; q < dim; q++) sim += unit[w * dim + q] * unit[v * dim + q];
      if (!(sim >= 1 - maxCosineDistance) || (found === take && sim <= bestSim[take - 1])) continue;
      let at = found < take ? found++ : take - 1;
      while (at > 0 && bestSim[at - 1] < sim) {
        bestSim[at] = bestSim[at - 1];
        bestId[at] = bestId[at - 1];
        at--;
      }
      bestSim[at] = sim;
      bestId[at] = v;
    }
    for (let j = 0; j < found; j++) neighbours[w * k + j] = bestId[j];
  }
  return neighbours;
}

describe('candidate table: each pair once, the same table as every ordered pair', () => {
  it.each([
    { k: 8, maxCosineDistance: 1 },
    { k: 3, maxCosineDistance: 0.7 },
    { k: 20, maxCosineDistance: 2 },
  ])('random embedding with repeated rows (ties) and zero rows, k $k, distance ≤ $maxCosineDistance', ({ k, maxCosineDistance }) => {
    const rng = new SeededRandom(11);
    const vocab = 300;
    const dim = 8;
    const m = Float32Array.from({ length: vocab * dim }, () => rng.uniform(-1, 1));
    for (let q = 0; q < dim; q++) {
      m[5 * dim + q] = m[9 * dim + q]; // tie: words 5 and 9 are the same vector
      m[7 * dim + q] = 0; // a zero row
      m[200 * dim + q] = 2 * m[100 * dim + q]; // tie by cosine
    }
    const matrix = tf.tensor2d(m, [vocab, dim]);
    try {
      const table = nearestNeighbourCandidates(matrix, k, maxCosineDistance);
      expect([...table.neighbours]).toEqual([...referenceCandidates(m, vocab, dim, k, maxCosineDistance)]);
    } finally {
      matrix.dispose();
    }
  });
});
