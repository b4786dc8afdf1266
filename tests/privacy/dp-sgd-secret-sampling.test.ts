import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChaChaRandom, epochOrderRandom, fitLocal, readModelWeights, SeededRandom, type Dataset, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

/**
 * DP-SGD's amplification by sampling (the accountant's q = batch/total) assumes the adversary does not know
 * which records a batch holds. The coordinator chooses `config.seed`: under DP-SGD the site samples its batches
 * from its own CSPRNG instead; without DP-SGD the seed still fixes the order (reproducible fits).
 */
const base: TrainConfig = { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 3 };
const dpSgd = { ...base, dpSgd: { clip: 1, noiseMultiplier: 1 } };
const indices = () => Array.from({ length: 200 }, (_, i) => i);

describe('the epoch order (epochOrderRandom)', () => {
  it('without DP-SGD: the coordinator\'s seed, the same order every time', () => {
    expect(epochOrderRandom(base).shuffle(indices())).toEqual(epochOrderRandom(base).shuffle(indices()));
    expect(epochOrderRandom(base).shuffle(indices())).toEqual(new SeededRandom(3).shuffle(indices()));
  });

  it('under DP-SGD: the same config.seed gives different orders, none of them the seed\'s', () => {
    const a = epochOrderRandom(dpSgd).shuffle(indices());
    const b = epochOrderRandom(dpSgd).shuffle(indices());
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(new SeededRandom(3).shuffle(indices()));
    expect([...a].sort((x, y) => x - y)).toEqual(indices());
  });

  it('under DP-SGD with a test seed: reproducible', () => {
    const seed = new Uint8Array(32).fill(1);
    expect(epochOrderRandom(dpSgd, seed).shuffle(indices())).toEqual(epochOrderRandom(dpSgd, seed).shuffle(indices()));
  });
});

describe('fitLocal: DP-SGD batches are not the coordinator\'s to choose', () => {
  beforeAll(async () => {
    await selectNodeBackend();
  });
  const data: Dataset = (() => {
    const rng = new SeededRandom(1);
    const x = new Float32Array(64 * 4).map(() => rng.next());
    const y = new Int32Array(64).map((_, i) => (x[i * 4] + x[i * 4 + 1] > 1 ? 1 : 0));
    return { x, y, featureShape: [4], numClasses: 2 };
  })();
  const fitted = async (config: TrainConfig, options: Parameters<typeof fitLocal>[4] = {}) => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, kernelInitializer: 'zeros', biasInitializer: 'zeros' })] });
    await fitLocal(model, data, config, undefined, options);
    const out = readModelWeights(model).arrays.map((a) => Array.from(a));
    model.dispose();
    return out;
  };
  // The same noise both times (a seeded source): only the batches can differ.
  const noise = () => new ChaChaRandom(new Uint8Array(32).fill(5));

  it('the same config.seed and noise under DP-SGD: different batches, different weights', async () => {
    expect(await fitted(dpSgd, { dpSgdNoise: noise() })).not.toEqual(await fitted(dpSgd, { dpSgdNoise: noise() }));
  });

  it('the same sampling seed (tests only) and noise: the same weights', async () => {
    const sampling = new Uint8Array(32).fill(2);
    expect(await fitted(dpSgd, { dpSgdNoise: noise(), dpSgdSampling: sampling })).toEqual(await fitted(dpSgd, { dpSgdNoise: noise(), dpSgdSampling: sampling }));
  });

  it('without DP-SGD: the same config.seed, the same weights', async () => {
    expect(await fitted(base)).toEqual(await fitted(base));
  });
});
