import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { fitLocal, isBatchNormLayer, modelManifest, personalizeModel, readModelWeights, splitDataset, subset, writeModelWeights, type PersonalizationSettings, type Splits, type TrainConfig } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

const train: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all', seed: 3 };
const settings = (s: Partial<PersonalizationSettings>): PersonalizationSettings => ({ mode: 'head', epochs: 2, lambda: 0.1, validate: false, ...s });
let data: Splits;

function distance(a: Float32Array[], b: Float32Array[]): number {
  let s = 0;
  a.forEach((w, i) => w.forEach((v, j) => (s += (v - b[i][j]) ** 2)));
  return Math.sqrt(s);
}

/** Which weight tensors differ (by name) between two reads of a model. */
function changed(model: tf.LayersModel, before: Float32Array[], after: Float32Array[]): string[] {
  const names = modelManifest(model).map((w) => w.name);
  return names.filter((_, i) => before[i].some((v, j) => v !== after[i][j]));
}

beforeAll(async () => {
  await selectNodeBackend();
  const site = builtinDigitsSites({ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 })[2];
  data = splitDataset(subset(site, Array.from({ length: Math.min(300, site.y.length) }, (_, i) => i)), 9);
});

describe('personalizeModel: each mode trains what it says', () => {
  it("'head' changes only the last layer's weights", async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const before = readModelWeights(model).arrays;
    const out = await personalizeModel(model, data, train, settings({ mode: 'head' }));
    const after = readModelWeights(model).arrays;
    expect(out.adopted).toBe(true);
    expect(changed(model, before, after).sort()).toEqual(['logits/bias', 'logits/kernel']);
    model.dispose();
  });

  it("'lp-ft' changes every layer", async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const before = readModelWeights(model).arrays;
    await personalizeModel(model, data, train, settings({ mode: 'lp-ft' }));
    const after = readModelWeights(model).arrays;
    expect(changed(model, before, after).sort()).toEqual(['hidden/bias', 'hidden/kernel', 'logits/bias', 'logits/kernel']);
    model.dispose();
  });

  it("'fedbn' changes only the BatchNorm parameters and statistics (cnn-bn)", async () => {
    const model = await loadModelDir(pretrainedModelDir('cnn-bn'));
    const before = readModelWeights(model).arrays;
    await personalizeModel(model, data, train, settings({ mode: 'fedbn', epochs: 1 }));
    const after = readModelWeights(model).arrays;
    const bnWeights = model.layers.filter(isBatchNormLayer).flatMap((l) => l.weights.map((w) => w.originalName!));
    expect(bnWeights).toHaveLength(8);
    // γ, β, moving mean and moving variance of both BN layers move; no convolution or dense weight does.
    expect(changed(model, before, after).sort()).toEqual([...bnWeights].sort());
    model.dispose();
  });

  it("'fedbn' on a model without BatchNorm is a clear config error", async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    await expect(personalizeModel(model, data, train, settings({ mode: 'fedbn' }))).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/BatchNorm.*cnn-bn/) });
    model.dispose();
  });

  it("'ditto' with λ = 0 equals a plain local fine-tune from the global model; a large λ stays near the global model", async () => {
    const global = readModelWeights(await loadModelDir(pretrainedModelDir('mlp'))).arrays;
    const run = async (lambda: number) => {
      const model = await loadModelDir(pretrainedModelDir('mlp'));
      await personalizeModel(model, data, train, settings({ mode: 'ditto', lambda, epochs: 3, learningRate: 0.005 }));
      const w = readModelWeights(model).arrays;
      model.dispose();
      return w;
    };
    const local = await loadModelDir(pretrainedModelDir('mlp'));
    await fitLocal(local, data.train, { ...train, epochs: 3, learningRate: 0.005 });
    const plain = readModelWeights(local).arrays;
    local.dispose();
    const free = await run(0);
    expect(distance(free, plain)).toBe(0);
    const tight = await run(100);
    expect(distance(tight, global)).toBeLessThan(0.5 * distance(free, global));
  });

  it.each([
    ['epochs', { epochs: 1 }, { epochs: 3 }],
    ['learningRate', { learningRate: 0.001 }, { learningRate: 0.01 }],
    ['lambda (ditto)', { mode: 'ditto', lambda: 0 }, { mode: 'ditto', lambda: 10 }],
    ['mode', { mode: 'head' }, { mode: 'ditto' }],
    ['mode lp-ft (head first) against plain fine-tuning', { mode: 'lp-ft' }, { mode: 'ditto', lambda: 0 }],
  ] as Array<[string, Partial<PersonalizationSettings>, Partial<PersonalizationSettings>]>)('option %s changes the personalised weights', async (_name, a, b) => {
    const weightsAfter = async (s: Partial<PersonalizationSettings>) => {
      const model = await loadModelDir(pretrainedModelDir('mlp'));
      await personalizeModel(model, data, train, settings(s));
      const w = readModelWeights(model).arrays;
      model.dispose();
      return w;
    };
    expect(distance(await weightsAfter(a), await weightsAfter(b))).toBeGreaterThan(0);
  });

  it('validate: a personalisation that makes the validation loss worse is not kept (adopted false, global weights back)', async () => {
    // A learning rate this large ruins the model, so validation prefers the global weights.
    const wreck = { ...train, optimizer: 'sgd' as const, learningRate: 9 };
    for (const validate of [true, false]) {
      const model = await loadModelDir(pretrainedModelDir('mlp'));
      const before = readModelWeights(model).arrays;
      const out = await personalizeModel(model, data, wreck, settings({ mode: 'ditto', lambda: 0, validate, epochs: 2 }));
      const after = readModelWeights(model).arrays;
      if (validate) {
        expect(out.adopted).toBe(false);
        expect(distance(after, before)).toBe(0);
        expect(out.validationLoss.personalized).toBeGreaterThan(out.validationLoss.global);
      } else {
        expect(out.adopted).toBe(true);
        expect(distance(after, before)).toBeGreaterThan(0);
      }
      model.dispose();
    }
  });

  it('leaks no tensors over repeated personalisations of every mode', async () => {
    const mlp = await loadModelDir(pretrainedModelDir('mlp'));
    const bn = await loadModelDir(pretrainedModelDir('cnn-bn'));
    const start = readModelWeights(mlp).arrays;
    const bnStart = readModelWeights(bn).arrays;
    const run = async () => {
      for (const mode of ['head', 'ditto'] as const) {
        writeModelWeights(mlp, start);
        await personalizeModel(mlp, data, train, settings({ mode, epochs: 1, lambda: 1, validate: true }));
      }
      writeModelWeights(bn, bnStart);
      await personalizeModel(bn, data, train, settings({ mode: 'fedbn', epochs: 1, validate: true }));
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    expect(tf.memory().numTensors).toBe(before);
    mlp.dispose();
    bn.dispose();
  });
});
