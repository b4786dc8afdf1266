import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adversarialPlan,
  embeddingPerturbation,
  evaluateTextAttack,
  fitLocal,
  nearestNeighbourCandidates,
  readModelWeights,
  splitAtEmbedding,
  TrainConfig,
  type Dataset,
} from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { SEQ_LEN, syntheticTextData, syntheticTextModel } from './synthetic-text-task.ts';

let train: Dataset;
const base: TrainConfig = { epochs: 12, batchSize: 32, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 3 };
type Adversarial = NonNullable<TrainConfig['adversarial']>;
const embeddingPgd: Adversarial = { method: 'pgd', share: 0.5, eps: 0.5, steps: 3, space: 'embedding' };

beforeAll(async () => {
  await selectNodeBackend();
  train = syntheticTextData(400, 1);
});

function tokenNorms(delta: tf.Tensor): number[][] {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(delta), 2)).arraySync() as number[][]);
}

describe('TrainConfig.adversarial.space', () => {
  it('is optional (an old config parses unchanged) and takes input or embedding', () => {
    const old = { ...base, adversarial: { method: 'pgd', share: 1, eps: 0.1 } };
    expect(TrainConfig.parse(old)).toEqual(old);
    expect(TrainConfig.parse({ ...base, adversarial: { eps: 2, space: 'embedding' } }).adversarial).toEqual({ method: 'pgd', share: 1, eps: 2, space: 'embedding' });
    expect(TrainConfig.parse({ ...base, adversarial: { eps: 0.1, space: 'input' } }).adversarial?.space).toBe('input');
  });

  it.each([
    ['an unknown space', { eps: 0.1, space: 'tokens' }],
    ['TRADES on embeddings', { method: 'trades', eps: 0.1, space: 'embedding' }],
    ['an L∞ norm on embeddings', { eps: 0.1, norm: 'linf', space: 'embedding' }],
    ['relative ε units on embeddings', { eps: 0.1, epsUnits: 'feature-std', space: 'embedding' }],
    ['an L∞ ε above 1 on the input', { eps: 1.5, space: 'input' }],
  ])('refuses %s', (_, adversarial) => {
    expect(TrainConfig.safeParse({ ...base, adversarial }).success).toBe(false);
  });

  it('the plan carries the space only for embeddings: FGSM one step of ε, PGD steps of 2.5·ε/steps', () => {
    expect(adversarialPlan({ ...base, adversarial: { method: 'pgd', share: 1, eps: 0.1 } }, train)?.space).toBeUndefined();
    const p = adversarialPlan({ ...base, adversarial: { method: 'pgd', share: 1, eps: 0.7, steps: 5, space: 'embedding' } }, train)!;
    expect([p.space, p.eps, p.steps, p.stepSize]).toEqual(['embedding', 0.7, 5, (2.5 * 0.7) / 5]);
    const f = adversarialPlan({ ...base, adversarial: { method: 'fgsm', share: 1, eps: 0.4, space: 'embedding' } }, train)!;
    expect([f.space, f.steps, f.stepSize]).toEqual(['embedding', 1, 0.4]);
  });
});

describe('embeddingPerturbation', () => {
  it('FGSM: each non-pad token of the first ⌈share·n⌉ examples moves by exactly ε; PAD and the rest by 0', () => {
    const model = syntheticTextModel(5);
    const split = splitAtEmbedding(model);
    const n = 5;
    const ids = tf.tensor2d(train.x.subarray(0, n * SEQ_LEN), [n, SEQ_LEN]);
    const onehot = tf.oneHot(tf.tensor1d(train.y.subarray(0, n), 'int32'), 2).toFloat();
    const plan = adversarialPlan({ ...base, adversarial: { method: 'fgsm', share: 0.5, eps: 0.25, space: 'embedding' } }, train)!;
    const before = tf.memory().numTensors;
    const delta = embeddingPerturbation(split, ids, onehot, plan, 1);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(delta.shape).toEqual([n, SEQ_LEN, 8]);
    const norms = tokenNorms(delta);
    let moved = 0;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < SEQ_LEN; p++) {
        const pad = train.x[i * SEQ_LEN + p] === 0;
        // ⌈0.5 · 5⌉ = 3 examples are perturbed; a token whose gradient is 0 (it never wins the max-pool) stays put.
        if (i >= 3 || pad) expect(norms[i][p]).toBe(0);
        else if (norms[i][p] > 0) {
          expect(norms[i][p]).toBeCloseTo(0.25, 5);
          moved++;
        }
      }
    }
    expect(moved).toBeGreaterThan(10);
    // It raises the loss of the perturbed examples (the gradient's direction).
    const [clean, adv] = tf.tidy(() => {
      const lossOf = (d?: tf.Tensor) => {
        const e = split.embed(ids);
        return tf.losses.softmaxCrossEntropy(onehot.slice(0, 3), split.rest(d ? tf.add(e, d) : e, false).slice(0, 3)).dataSync()[0];
      };
      return [lossOf(), lossOf(delta)];
    });
    expect(adv).toBeGreaterThan(clean);
    tf.dispose([ids, onehot, delta]);
    model.dispose();
  });

  it('PGD stays inside the per-token ball and ends farther out than its random start allows on average', () => {
    const model = syntheticTextModel(5);
    const split = splitAtEmbedding(model);
    const n = 4;
    const ids = tf.tensor2d(train.x.subarray(0, n * SEQ_LEN), [n, SEQ_LEN]);
    const onehot = tf.oneHot(tf.tensor1d(train.y.subarray(0, n), 'int32'), 2).toFloat();
    const plan = adversarialPlan({ ...base, adversarial: { method: 'pgd', share: 1, eps: 0.3, steps: 4, space: 'embedding' } }, train)!;
    const delta = embeddingPerturbation(split, ids, onehot, plan, 7);
    const norms = tokenNorms(delta).flat();
    const tokens = norms.filter((_, q) => train.x[q] !== 0);
    expect(Math.max(...norms)).toBeLessThanOrEqual(0.3 + 1e-5);
    expect(norms.filter((_, q) => train.x[q] === 0).every((v) => v === 0)).toBe(true);
    // 4 steps of 2.5·ε/4 along the normalised gradient reach the sphere from any start.
    expect(tokens.reduce((a, b) => a + b, 0) / tokens.length).toBeGreaterThan(0.29);
    const again = embeddingPerturbation(split, ids, onehot, plan, 7);
    expect(Array.from(again.dataSync())).toEqual(Array.from(delta.dataSync()));
    tf.dispose([ids, onehot, delta, again]);
    model.dispose();
  });
});

describe('fitLocal with adversarial training on embeddings', () => {
  it('refuses a model whose first layer is not an Embedding, and DP-SGD, with one clear config error', async () => {
    const dense = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [SEQ_LEN] })] });
    await expect(fitLocal(dense, train, { ...base, epochs: 1, adversarial: embeddingPgd })).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/first layer is an Embedding.*Dense/) });
    dense.dispose();
    const model = syntheticTextModel(1);
    await expect(fitLocal(model, train, { ...base, epochs: 1, adversarial: embeddingPgd, dpSgd: { clip: 1, noiseMultiplier: 1 } })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('embeddings') });
    model.dispose();
  });

  it('changes the trained weights (the option has an effect), deterministically, and leaks no tensors', async () => {
    const weights = async (adversarial?: Adversarial) => {
      const model = syntheticTextModel(1);
      await fitLocal(model, train, { ...base, epochs: 1, maxExamples: 96, ...(adversarial ? { adversarial } : {}) });
      const w = readModelWeights(model).arrays;
      model.dispose();
      return w;
    };
    const plain = await weights();
    const before = tf.memory().numTensors;
    const embedded = await weights(embeddingPgd);
    expect(tf.memory().numTensors).toBe(before);
    expect(await weights(embeddingPgd)).toEqual(embedded);
    const differs = (a: Float32Array[], b: Float32Array[]) => a.some((w, i) => w.some((v, j) => v !== b[i][j]));
    expect(differs(plain, embedded)).toBe(true);
    // FGSM and PGD on embeddings are different steps.
    expect(differs(await weights({ ...embeddingPgd, method: 'fgsm' }), embedded)).toBe(true);
  });

  it('input-space adversarial training of an Embedding model is one clear config error naming the space', async () => {
    const model = syntheticTextModel(1);
    await expect(fitLocal(model, train, { ...base, epochs: 1, adversarial: { ...embeddingPgd, space: 'input' } })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--adv-space embedding') });
    await expect(fitLocal(model, train, { ...base, epochs: 1, adversarial: { method: 'pgd', share: 1, eps: 0.1 } })).rejects.toMatchObject({ code: 'config' });
    model.dispose();
  });

  it('raises accuracy under the word-substitution attack vs plain training (same seed, same candidates)', async () => {
    const test = syntheticTextData(200, 2);
    const init = syntheticTextModel(1);
    const candidates = nearestNeighbourCandidates(init.layers[0].getWeights()[0] as tf.Tensor2D, 6, 1);
    init.dispose();
    const attacked = async (adversarial?: Adversarial) => {
      const model = syntheticTextModel(1);
      await fitLocal(model, train, { ...base, ...(adversarial ? { adversarial } : {}) });
      const rows = evaluateTextAttack(model, test, [0, 2, 4], { candidates });
      model.dispose();
      return rows.map((r) => r.accuracy);
    };
    const plain = await attacked();
    const robust = await attacked(embeddingPgd);
    // Measured (budget 0 / 2 / 4): plain 1.00 / 0.065 / 0.005, robust 0.985 / 0.415 / 0.29 (model seed 4: 1.00 / 0.06 / 0.01 vs 1.00 / 0.355 / 0.165).
    expect(plain[0]).toBeGreaterThan(0.95);
    expect(robust[0]).toBeGreaterThan(0.95);
    expect(robust[1]).toBeGreaterThan(plain[1] + 0.2);
    expect(robust[2]).toBeGreaterThan(plain[2] + 0.1);
  }, 60_000);
});
