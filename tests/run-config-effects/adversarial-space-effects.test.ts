import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeRunConfig, type PartialRunConfigInput } from '@fedtune/coordinator/config';
import { fitLocal, readModelWeights, scheduledTrain, warmedUpTrain, type Dataset, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData } from '../access/helpers.ts';
import { syntheticTextData, syntheticTextModel } from '../robustness/text/synthetic-text-task.ts';

/**
 * Effect test of the run config's train.adversarial.space (run-config-field-coverage.test.ts): where the training
 * attack perturbs — 'input' (the model's input features) or 'embedding' (the output of a text model's first
 * layer, an Embedding, in an L2 ball per token). The run config is turned into the training a site receives in
 * round 1 (as train-field-effects.test.ts does) and fitted. Each space fits only the model it can attack: token
 * ids have no input-space neighbourhood, and a model without an Embedding has no embeddings. So the same
 * adversarial settings, with the space the only difference, give adversarially trained weights on one model
 * and a config error naming the space on the other — for a text model and for a feature model.
 */

const ATTACK = { method: 'pgd', share: 0.5, eps: 0.1, steps: 2, norm: 'l2' };
const BASE: PartialRunConfigInput = { runId: 'space-effects', rounds: 2, train: { epochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'sgd', trainable: 'all' } };

/** The round-1 training a site gets for `train` over BASE (run-context.ts trainSettings, fedavg: no strategy hook). */
function sentTrain(train: Record<string, unknown>): TrainConfig {
  const config = mergeRunConfig(BASE, { train: train as never });
  return { ...scheduledTrain(warmedUpTrain(config.train, 1), 1, config.rounds), seed: 11 };
}

/** A feature model (its first layer a Dense), seeded. */
function featureModel(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: init(1) }), tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(2) })] });
}

/** The weights `build`'s model ends with after fitting `data` with `train`. */
async function fitted(build: () => tf.LayersModel, data: Dataset, train: Record<string, unknown>): Promise<Float32Array[]> {
  const model = build();
  try {
    await fitLocal(model, data, sentTrain(train));
    return readModelWeights(model).arrays.map((a) => Float32Array.from(a));
  } finally {
    model.dispose();
  }
}

const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((w, i) => Math.max(...w.map((v, j) => Math.abs(v - b[i]![j]!)))));

let text: Dataset;
let features: Dataset;
beforeAll(async () => {
  await selectNodeBackend();
  text = syntheticTextData(64, 1);
  features = tinyData(64, 2);
});

const textModel = () => syntheticTextModel(1);

describe('train.adversarial.space decides where the training attack perturbs', () => {
  it('a text model: space "embedding" trains on perturbed embeddings (other weights than plain training, the same twice); space "input" is refused', async () => {
    const plain = await fitted(textModel, text, {});
    const embedding = await fitted(textModel, text, { adversarial: { ...ATTACK, space: 'embedding' } });
    expect(maxDiff(plain, embedding)).toBeGreaterThan(1e-6);
    expect(maxDiff(await fitted(textModel, text, { adversarial: { ...ATTACK, space: 'embedding' } }), embedding)).toBe(0);
    await expect(fitted(textModel, text, { adversarial: { ...ATTACK, space: 'input' } })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--adv-space embedding') });
  });

  it('a feature model: space "input" trains on perturbed inputs (other weights than plain training, the same twice); space "embedding" is refused', async () => {
    const plain = await fitted(featureModel, features, {});
    const input = await fitted(featureModel, features, { adversarial: { ...ATTACK, space: 'input' } });
    expect(maxDiff(plain, input)).toBeGreaterThan(1e-6);
    expect(maxDiff(await fitted(featureModel, features, { adversarial: { ...ATTACK, space: 'input' } }), input)).toBe(0);
    // Absent, the space is the input: the same training as 'input'.
    expect(maxDiff(await fitted(featureModel, features, { adversarial: ATTACK }), input)).toBe(0);
    await expect(fitted(featureModel, features, { adversarial: { ...ATTACK, space: 'embedding' } })).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/first layer is an Embedding.*Dense/) });
  });
});
