import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import {
  AUTO_CANDIDATES,
  autoPersonalize,
  betterOnValidation,
  evaluateModel,
  interpolateWeights,
  personalizeModel,
  readModelWeights,
  siteReportWork,
  splitDataset,
  subset,
  writeModelWeights,
  type PersonalizationSettings,
  type SiteReportInstruction,
  type Splits,
  type TrainConfig,
} from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

const train: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all', seed: 3 };
const settings = (s: Partial<PersonalizationSettings> = {}): PersonalizationSettings => ({ mode: 'auto', epochs: 2, lambda: 0.1, validate: true, ...s });
let data: Splits;

const same = (a: Float32Array[], b: Float32Array[]) => a.every((w, i) => w.every((v, j) => v === b[i][j]));

beforeAll(async () => {
  await selectNodeBackend();
  // site-3 of the built-in task: its own scanner, so the pretrained model has room to improve.
  const site = builtinDigitsSites({ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 })[2];
  data = splitDataset(subset(site, Array.from({ length: Math.min(300, site.y.length) }, (_, i) => i)), 9);
});

describe('interpolateWeights and betterOnValidation', () => {
  const a = [new Float32Array([1, 2]), new Float32Array([4])];
  const b = [new Float32Array([3, 6]), new Float32Array([0])];
  it.each([
    [1, [[1, 2], [4]]],
    [0, [[3, 6], [0]]],
    [0.5, [[2, 4], [2]]],
    [0.25, [[2.5, 5], [1]]],
  ])('α = %s gives α·a + (1 − α)·b', (alpha, want) => {
    expect(interpolateWeights(a, b, alpha).map((w) => Array.from(w))).toEqual(want);
  });

  it.each([
    ['higher accuracy wins despite a higher loss', { accuracy: 0.9, loss: 2 }, { accuracy: 0.8, loss: 0.1 }, true],
    ['lower accuracy loses despite a lower loss', { accuracy: 0.8, loss: 0.1 }, { accuracy: 0.9, loss: 2 }, false],
    ['same accuracy: lower loss wins', { accuracy: 0.9, loss: 0.2 }, { accuracy: 0.9, loss: 0.3 }, true],
    ['an exact tie keeps the incumbent', { accuracy: 0.9, loss: 0.3 }, { accuracy: 0.9, loss: 0.3 }, false],
  ])('%s', (_name, x, y, want) => {
    expect(betterOnValidation(x, y)).toBe(want);
  });
});

describe("personalisation mode 'auto': model selection on the site's validation split", () => {
  it('tries every candidate, keeps the best on validation, and is at least the global model there', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const global = evaluateModel(model, data.validation);
    const out = await autoPersonalize(model, data, train, settings());
    // No local-only weights given: every other candidate, in order.
    expect(out.scores.map((s) => s.candidate)).toEqual(AUTO_CANDIDATES.filter((c) => c !== 'local-only' && c !== 'local-mix-0.5'));
    const kept = out.scores.find((s) => s.candidate === out.chosen)!;
    for (const s of out.scores) expect(s.accuracy).toBeLessThanOrEqual(kept.accuracy);
    // The model holds the chosen candidate's weights: its validation metrics are that candidate's.
    const now = evaluateModel(model, data.validation);
    expect(now.accuracy).toBe(kept.accuracy);
    expect(now.loss).toBeCloseTo(kept.loss, 5);
    expect(now.accuracy).toBeGreaterThanOrEqual(global.accuracy);
    // On this site the pretrained (global) model is far from its scanner: a fine-tuned candidate wins.
    expect(out.chosen).not.toBe('global');
    expect(model.layers.every((l) => l.trainable)).toBe(true);
    model.dispose();
  });

  it('a fine-tune that wrecks the model is never preferred to a better global model on validation', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const before = readModelWeights(model).arrays;
    const global = evaluateModel(model, data.validation);
    const out = await personalizeModel(model, data, { ...train, optimizer: 'sgd', learningRate: 9 }, settings({ epochs: 1 }));
    const kept = evaluateModel(model, data.validation);
    expect(kept.accuracy).toBeGreaterThanOrEqual(global.accuracy);
    expect(out.adopted).toBe(out.chosen !== 'global');
    expect(same(readModelWeights(model).arrays, before)).toBe(out.chosen === 'global');
    model.dispose();
  });

  it('epochs changes what auto keeps; personalizeModel reports the choice', async () => {
    const after = async (epochs: number) => {
      const model = await loadModelDir(pretrainedModelDir('mlp'));
      const out = await personalizeModel(model, data, train, settings({ epochs }));
      const w = readModelWeights(model).arrays;
      model.dispose();
      expect(AUTO_CANDIDATES).toContain(out.chosen);
      expect(out.adopted).toBe(out.chosen !== 'global');
      return w;
    };
    expect(same(await after(1), await after(4))).toBe(false);
  });

  it('without a validation split it is a clear data error', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    await expect(autoPersonalize(model, { train: data.train, validation: subset(data.validation, []) }, train, settings())).rejects.toMatchObject({
      code: 'data',
      message: expect.stringMatching(/"auto" needs a validation split/),
    });
    model.dispose();
  });

  it('leaks no tensors over repeated runs', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const start = readModelWeights(model).arrays;
    const run = async () => {
      writeModelWeights(model, start);
      await autoPersonalize(model, data, train, settings({ epochs: 1 }));
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('a fair local-only baseline', () => {
  it.each([
    ['validate true: local-only keeps its best epoch on validation', true, true],
    ['validate false: local-only keeps its last epoch', false, false],
  ])('%s', async (_name, validate, selects) => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const global = readModelWeights(model).arrays;
    const instruction: SiteReportInstruction = {
      runId: 'r',
      round: 1,
      modelVersion: 1,
      weights: new Uint8Array(0),
      train,
      personalization: settings({ mode: 'head', epochs: 1, validate }),
      localOnlyEpochs: 3,
    };
    const work = await siteReportWork(model, data, instruction, { global, pretrained: global });
    expect(work.localOnlyFit?.validationLoss !== undefined).toBe(selects);
    expect(work.chosen).toBeUndefined();
    model.dispose();
  });

  it("mode 'auto' reports its choice in the site's work", async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const global = readModelWeights(model).arrays;
    const instruction: SiteReportInstruction = { runId: 'r', round: 1, modelVersion: 1, weights: new Uint8Array(0), train, personalization: settings({ epochs: 1 }) };
    const work = await siteReportWork(model, data, instruction, { global });
    expect(AUTO_CANDIDATES).toContain(work.chosen);
    expect(work.adopted).toBe(work.chosen !== 'global');
    model.dispose();
  });
});
