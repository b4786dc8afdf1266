import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { architectures, FedtuneError, modelFromTopology, modelManifest, modelTopology, totalParameters } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { limitWeightAllocation } from '../../shared/src/model/weight-allocation-limit.ts';

// modelFromTopology({ maxParameters }): the weights a topology's layers make, counted as they are made, against
// the manifest's total (every weight, trainable or not: BatchNorm's moving statistics too).
beforeAll(async () => {
  await selectNodeBackend();
});

const options = (name: string) => (name === 'text-cnn' ? { inputShape: [24], numClasses: 2, seed: 3, vocabularySize: 500 } : { inputShape: name === 'mlp' ? [784] : [28, 28, 1], numClasses: 10, seed: 3 });
const addWeight = () => (tf.layers.Layer.prototype as unknown as { addWeight: unknown }).addWeight;

describe('a topology built within its manifest\'s parameters', () => {
  it.each(Object.keys(architectures))('%s: builds with exactly its manifest\'s total, is refused one parameter below it, and the limit is lifted either way', async (name) => {
    const original = addWeight();
    const model = architectures[name].build(options(name));
    const topology = modelTopology(model);
    const total = totalParameters(modelManifest(model));
    model.dispose();
    const built = await modelFromTopology(topology, { maxParameters: total });
    expect(totalParameters(modelManifest(built))).toBe(total);
    built.dispose();
    expect(addWeight()).toBe(original);
    const refused = await modelFromTopology(topology, { maxParameters: total - 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FedtuneError);
    expect((refused as FedtuneError).code).toBe('shape_mismatch');
    expect((refused as FedtuneError).message).toMatch(new RegExp(`more weights than the manifest's ${total - 1} parameters \\(at .+, shape \\[[0-9,]+\\]\\): refused before allocating them`));
    expect(addWeight()).toBe(original);
  });

  it('a weight whose size is not a non-negative integer counts as past any limit (a negative one would make room for the next); hostile names are clipped', () => {
    const layer = tf.layers.dense({ units: 1 }) as unknown as { addWeight: (name: string, shape: unknown, dtype: string, init: ReturnType<typeof tf.initializers.zeros>) => unknown };
    for (const shape of [[4, -5], [4, 1.5], [4, Number.NaN], [4, Number.POSITIVE_INFINITY], ['4', 2], null]) {
      const restore = limitWeightAllocation(1e9);
      try {
        expect(() => layer.addWeight('w', shape, 'float32', tf.initializers.zeros()), JSON.stringify(shape)).toThrow(/more weights than the manifest's 1000000000 parameters/);
      } finally {
        restore();
      }
    }
    // A dimension of 0 is a size (an empty weight), within a limit of 0.
    const empty = limitWeightAllocation(0);
    try {
      expect(layer.addWeight('empty', [0, 4], 'float32', tf.initializers.zeros())).toBeDefined();
    } finally {
      empty();
    }
    const restore = limitWeightAllocation(10);
    try {
      let message = '';
      try {
        layer.addWeight('x'.repeat(5000), [4, 3], 'float32', tf.initializers.zeros());
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^the model built from the topology has more weights than the manifest's 10 parameters \(at x+… \(4936 more characters\), shape \[4,3\]\)/);
      expect(message.length).toBeLessThan(300);
    } finally {
      restore();
    }
  });

  it('without a limit nothing is counted (the coordinator\'s own models)', async () => {
    const model = architectures.mlp.build(options('mlp'));
    const built = await modelFromTopology(modelTopology(model));
    expect(built.countParams()).toBe(model.countParams());
    model.dispose();
    built.dispose();
  });
});
