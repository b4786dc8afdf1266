import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { hasPretrainedModel, loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { getArchitecture } from '@fedtune/shared';
import { builtinDigits } from '@fedtune/shared/node';

/**
 * Checks the committed pretrained checkpoint of a digits architecture: it exists, loads with the layers and
 * parameter count the architecture builds, and returns its accuracy on the first `n` scanned holdout digits.
 */
export async function pretrainedCheckpointAccuracy(architecture: string, n = 300): Promise<number> {
  expect(hasPretrainedModel(architecture)).toBe(true);
  const model = await loadModelDir(pretrainedModelDir(architecture));
  const built = getArchitecture(architecture).build({ inputShape: [784], numClasses: 10, seed: 1 });
  try {
    expect(model.layers.map((l) => l.name)).toEqual(built.layers.map((l) => l.name));
    expect(model.countParams()).toBe(built.countParams());
    const holdout = builtinDigits().holdout;
    return tf.tidy(() => {
      const x = tf.tensor2d(holdout.x.subarray(0, n * 784), [n, 784]);
      const predicted = (model.predict(x) as tf.Tensor).argMax(1);
      return tf.equal(predicted, tf.tensor1d(Array.from(holdout.y.subarray(0, n)), 'int32')).mean().dataSync()[0];
    });
  } finally {
    model.dispose();
    built.dispose();
  }
}
