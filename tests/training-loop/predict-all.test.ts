import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateModel, getArchitecture, predictAll, SeededRandom, type Dataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

beforeAll(async () => {
  await selectNodeBackend();
});

function digitsLike(n: number, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const x = Float32Array.from({ length: n * 784 }, () => rng.next());
  const y = Int32Array.from({ length: n }, () => rng.int(10));
  return { x, y, featureShape: [784], numClasses: 10 };
}

/** The kernels one call runs, by name (tf.profile). */
async function kernelCounts(run: () => tf.Tensor): Promise<Map<string, number>> {
  const info = await tf.profile(() => {
    run().dispose();
  });
  const counts = new Map<string, number>();
  for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  return counts;
}

describe('predictAll: every row in one pass, the same outputs as model.predict', () => {
  it.each(['mlp', 'cnn'])('%s: bit-identical to model.predict on 100 rows (which runs them 32 at a time)', (arch) => {
    const model = getArchitecture(arch).build({ inputShape: arch === 'mlp' ? [784] : [28, 28, 1], numClasses: 10, seed: 3 });
    const ds = digitsLike(100, 11);
    const x = tf.tensor(ds.x, [100, ...(model.inputs[0].shape.slice(1) as number[])]);
    try {
      const reference = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
      const one = tf.tidy(() => predictAll(model, x).dataSync());
      expect(one).toEqual(reference);
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('runs each of the MLP’s matrix products once for the whole batch (model.predict: once per 32 rows)', async () => {
    const model = getArchitecture('mlp').build({ inputShape: [784], numClasses: 10, seed: 3 });
    const x = tf.tensor(digitsLike(100, 12).x, [100, 784]);
    try {
      const matMuls = (counts: Map<string, number>) => [...counts].filter(([name]) => /MatMul/.test(name)).reduce((s, [, c]) => s + c, 0);
      const once = matMuls(await kernelCounts(() => predictAll(model, x)));
      expect(once).toBeGreaterThan(0);
      // 100 rows are 4 batches of 32 for model.predict.
      expect(matMuls(await kernelCounts(() => model.predict(x) as tf.Tensor))).toBe(4 * once);
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('evaluateModel runs one pass per batch of 500 and leaks no tensors', async () => {
    const model = getArchitecture('mlp').build({ inputShape: [784], numClasses: 10, seed: 3 });
    const ds = digitsLike(1200, 13);
    try {
      const once = (
        await tf.profile(() => {
          tf.tidy(() => predictAll(model, tf.zeros([500, 784])));
        })
      ).kernels.filter((k) => /MatMul/.test(k.name)).length;
      const before = tf.memory().numTensors;
      const info = await tf.profile(() => {
        evaluateModel(model, ds);
      });
      // 1200 rows: batches of 500, 500 and 200, one pass each.
      expect(info.kernels.filter((k) => /MatMul/.test(k.name)).length).toBe(3 * once);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
