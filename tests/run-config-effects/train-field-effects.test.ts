import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeRunConfig, type PartialRunConfigInput, type RunConfig } from '@fedtune/coordinator/config';
import { ChaChaRandom, composeDpSgd, fitLocal, IMAGE_CORRUPTIONS, RdpAccountant, readModelWeights, scheduledTrain, SeededRandom, warmedUpTrain, writeModelWeights, type Dataset, type FitMetrics, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

/**
 * Effect tests of the run config's training fields (run-config-field-coverage.test.ts): for each field, two run
 * configs that differ only in it are turned into the training a site receives in round 1 (the engine's own
 * steps: warm-up, schedule; run-context.ts trainSettings) and fitted from the same weights on the same data
 * with the same seed. The field must change what the fit produces — the weights, the epochs it ran, or the ε
 * the site reports — while the base config fitted twice gives identical weights (so the difference is the field's).
 */

const N = 48;
const SHAPE = [6, 6, 1];
const FEATURES = 36;
const CLASSES = 3;

function data(seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(N * FEATURES).map(() => rng.next());
  const y = new Int32Array(N).map((_, i) => (x[i * FEATURES] + x[i * FEATURES + 7] > 1 ? 1 : x[i * FEATURES + 20] > 0.5 ? 2 : 0));
  return { x, y, featureShape: SHAPE, numClasses: CLASSES };
}
const TRAIN = data(1);
const VALIDATION = data(2);

/** A tiny image model with a dropout layer (rate 0 unless train.dropout sets it) and two layers with weights. */
function model(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: SHAPE }));
  m.add(tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  m.add(tf.layers.dropout({ rate: 0 }));
  m.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
  return m;
}

interface Outcome {
  weights: Float32Array[];
  metrics: FitMetrics;
  /** ε the site reports after this fit (DP-SGD only), with the delta it receives. */
  epsilon?: number;
}

const BASE: PartialRunConfigInput = { runId: 'effects', rounds: 3, train: { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all' } };

/** The round-1 training a site gets for `config` (run-context.ts trainSettings, without a strategy hook: fedavg has none). */
const sentTrain = (config: RunConfig): TrainConfig => ({ ...scheduledTrain(warmedUpTrain(config.train, 1), 1, config.rounds), seed: 11 });

async function fit(partial: PartialRunConfigInput): Promise<Outcome> {
  const config = mergeRunConfig(BASE, partial);
  const train = sentTrain(config);
  const m = model();
  try {
    const metrics = await fitLocal(m, TRAIN, train, undefined, { validation: VALIDATION, dpSgdNoise: new ChaChaRandom(new Uint8Array(32).fill(9)), dpSgdSampling: new Uint8Array(32).fill(10) });
    const weights = readModelWeights(m).arrays.map((a) => Float32Array.from(a));
    const epsilon = metrics.dpSgd ? composeDpSgd(new RdpAccountant(), metrics.dpSgd, train.dpSgd?.delta)?.epsilon : undefined;
    return { weights, metrics, epsilon };
  } finally {
    m.dispose();
  }
}

const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((w, i) => Math.max(...w.map((v, j) => Math.abs(v - b[i]![j]!)))));

const train = (t: Record<string, unknown>): PartialRunConfigInput => ({ train: t as never });
const [CORRUPTION_A, CORRUPTION_B] = [IMAGE_CORRUPTIONS[0]!.name, IMAGE_CORRUPTIONS[3]!.name];
const DP_SGD = { clip: 1, noiseMultiplier: 0.5 };

interface Row {
  /** The config without the field (or with another value) and with it. */
  without: PartialRunConfigInput;
  with: PartialRunConfigInput;
  /** What differs; default: the trained weights. */
  observe?: (o: Outcome) => unknown;
  /** The fit draws unseeded randomness with the field set (the fitted-twice check does not apply). */
  unseeded?: boolean;
}

const ROWS: Record<string, Row> = {
  'train.epochs': { without: train({ epochs: 1 }), with: train({ epochs: 3 }) },
  'train.batchSize': { without: train({ batchSize: 8 }), with: train({ batchSize: 24 }) },
  'train.learningRate': { without: train({ learningRate: 0.1 }), with: train({ learningRate: 0.3 }) },
  'train.optimizer': { without: train({ optimizer: 'sgd' }), with: train({ optimizer: 'adam' }) },
  // head: only the last layer with weights trains, so the first dense kernel keeps its initial values.
  'train.trainable': { without: train({ trainable: 'all' }), with: train({ trainable: 'head' }), observe: (o) => o.weights[0]!.slice(0, 8).join() },
  'train.maxExamples': { without: {}, with: train({ maxExamples: 8 }), observe: (o) => o.metrics.numExamples },
  'train.weightDecay': { without: {}, with: train({ weightDecay: 0.5 }) },
  // Dropout's masks are drawn unseeded (tfjs): the same config fitted twice differs, so that check is left out.
  'train.dropout': { without: {}, with: train({ dropout: 0.5 }), unseeded: true },
  'train.earlyStopping.patience': { without: train({ epochs: 12, earlyStopping: { patience: 4, minDelta: 10 } }), with: train({ epochs: 12, earlyStopping: { patience: 1, minDelta: 10 } }), observe: (o) => o.metrics.epochs },
  'train.earlyStopping.minDelta': { without: train({ epochs: 12, earlyStopping: { patience: 1, minDelta: 0 } }), with: train({ epochs: 12, earlyStopping: { patience: 1, minDelta: 10 } }), observe: (o) => o.metrics.epochs },
  'train.augmentation.share': { without: train({ augmentation: { share: 0, noiseSigmas: [0.3], corruptions: [] } }), with: train({ augmentation: { share: 1, noiseSigmas: [0.3], corruptions: [] } }) },
  'train.augmentation.corruptions': { without: train({ augmentation: { share: 1, noiseSigmas: [], corruptions: [CORRUPTION_A] } }), with: train({ augmentation: { share: 1, noiseSigmas: [], corruptions: [CORRUPTION_B] } }) },
  'train.augmentation.noiseSigmas': { without: train({ augmentation: { share: 1, noiseSigmas: [0.05], corruptions: [] } }), with: train({ augmentation: { share: 1, noiseSigmas: [0.5], corruptions: [] } }) },
  'train.adversarial.beta': { without: train({ adversarial: { eps: 0.1, method: 'trades', beta: 1, steps: 2 } }), with: train({ adversarial: { eps: 0.1, method: 'trades', beta: 6, steps: 2 } }) },
  'train.dpSgd.clip': { without: train({ dpSgd: { ...DP_SGD, clip: 0.05 } }), with: train({ dpSgd: { ...DP_SGD, clip: 1 } }) },
  'train.dpSgd.noiseMultiplier': { without: train({ dpSgd: { ...DP_SGD, noiseMultiplier: 0.5 } }), with: train({ dpSgd: { ...DP_SGD, noiseMultiplier: 2 } }) },
  // delta acts where the site composes its spend into ε (site-client.ts passes the config's delta to composeDpSgd).
  'train.dpSgd.delta': { without: train({ dpSgd: { ...DP_SGD, delta: 1e-5 } }), with: train({ dpSgd: { ...DP_SGD, delta: 1e-2 } }), observe: (o) => o.epsilon },
};

beforeAll(async () => {
  await selectNodeBackend();
});

describe('every training field of the run config changes what a site\'s fit produces', () => {
  it('the base config fitted twice gives the same weights (the rows\' differences are their fields\')', async () => {
    const [a, b] = [await fit({}), await fit({})];
    expect(maxDiff(a.weights, b.weights)).toBe(0);
  });

  it.each(Object.entries(ROWS))('%s', async (field, row) => {
    const [a, b] = [await fit(row.without), await fit(row.with)];
    if (row.observe) {
      expect(row.observe(a), field).toBeDefined();
      expect(row.observe(b), field).not.toEqual(row.observe(a));
    } else {
      expect(maxDiff(a.weights, b.weights), field).toBeGreaterThan(1e-6);
    }
    // The same config twice fits the same: the difference is the field's, not noise.
    if (row.unseeded) return;
    const again = await fit(row.with);
    expect(maxDiff(again.weights, b.weights), `${field} fitted twice`).toBe(0);
  });
});
