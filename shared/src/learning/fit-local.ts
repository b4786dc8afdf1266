import { yieldToEventLoop } from '../client/yield-to-event-loop.ts';
import * as tf from '@tensorflow/tfjs';
import { subset, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { readModelWeights, writeModelWeights } from '../model/model-weights.ts';
import { epochOrderRandom } from './epoch-order.ts';
import { inputGeometry, valueRange } from '../robustness/apply-corruption.ts';
import { augmentInPlace, makeAugmenter, type Augmenter } from './augment-examples.ts';
import { inputTensor, modelInputShape, oneHotTensor } from './dataset-tensors.ts';
import { evaluateModel } from './evaluate-model.ts';
import { adversarialBatch, batchSeed, embeddingDelta, trainStep, tradesPartners, type StepContext } from './robust-step.ts';
import { splitAtEmbedding, startsWithEmbedding } from '../robustness/text/embedding-split.ts';
import { ADVERSARIAL_REFUSALS } from './adversarial-refusals.ts';
import { adversarialPlan } from './adversarial-plan.ts';
import { dpSgdStep, type DpSgdStepParams } from './dp-sgd-step.ts';
import { createFusedOptimizer, type FusedOptimizer } from './fused-optimizer.ts';
import { createTrainStep, type TrainStep } from './train-step.ts';
import { ChaChaRandom, type NormalSource } from '../privacy/chacha-random.ts';
import { dpSgdSchedule, type DpSgdSpend } from '../privacy/dp-sgd-accounting.ts';

export interface FitProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
}

export interface FitMetrics {
  loss: number;
  accuracy: number;
  numExamples: number;
  /** Epochs actually trained (fewer than configured when early stopping stopped the fit). */
  epochs?: number;
  /** True when early stopping ended the fit before `config.epochs`. */
  stoppedEarly?: boolean;
  /** The best validation loss seen (early stopping only); the model holds the weights that reached it. */
  validationLoss?: number;
  /** With `config.dpSgd`: the noisy steps this fit took, for the site's accountant (`composeDpSgd`). */
  dpSgd?: DpSgdSpend;
}

/** Optional inputs of `fitLocal` beyond the training data and config. */
export interface FitLocalOptions {
  /** The site's validation split: needed by `config.earlyStopping` (without it early stopping is off). */
  validation?: Dataset;
  /**
   * Source of DP-SGD's Gaussian noise. Default: a `ChaChaRandom` seeded from operating-system randomness (a
   * seeded source makes the noise predictable: only tests pass one, for reproducibility).
   */
  dpSgdNoise?: NormalSource;
  /**
   * Seed (32 bytes) of DP-SGD's batch sampling. Default: operating-system randomness (epoch-order.ts); only tests
   * pass one, for reproducibility — whoever knows it knows which records each batch held.
   */
  dpSgdSampling?: Uint8Array;
  /** Keep the layers' `trainable` flags as the caller set them (FedBN personalisation) instead of `config.trainable`. */
  keepTrainable?: boolean;
  /** A plain config on a Dense stack runs it on the wasm heap (dense-stack-step.ts). Default true; false keeps the tape (benches and tests compare the two). */
  denseStack?: boolean;
}

/** The tfjs optimizer of a training config (the parallel trainer makes its replicas' optimizers the same way). */
export function makeOptimizer(config: TrainConfig): tf.Optimizer {
  switch (config.optimizer) {
    case 'sgd':
      return tf.train.sgd(config.learningRate);
    case 'momentum':
      return tf.train.momentum(config.learningRate, 0.9);
    case 'adam':
      return tf.train.adam(config.learningRate);
  }
}

/** Sets which layers train: all, the head (last layer with weights) or the last k layers with weights. */
export function setTrainableLayers(model: tf.LayersModel, scope: TrainConfig['trainable']): void {
  const withWeights = model.layers.filter((l) => l.weights.length > 0);
  const k = scope === 'all' ? withWeights.length : scope === 'head' ? 1 : Math.min(scope, withWeights.length);
  withWeights.forEach((layer, i) => {
    layer.trainable = i >= withWeights.length - k;
  });
}

/** Sets the rate of the model's dropout layers; returns how many there are. */
export function setDropoutRate(model: tf.LayersModel, rate: number): number {
  const layers = model.layers.filter((l) => l.getClassName() === 'Dropout');
  // tfjs keeps the rate in a field it reads on every call; it has no setter.
  for (const l of layers) (l as unknown as { rate: number }).rate = rate;
  return layers.length;
}

/** Whether the config asks for more than `model.fit` can express (a custom training loop runs then). */
export function needsCustomLoop(config: TrainConfig): boolean {
  return (
    (config.augmentation?.share ?? 0) > 0 ||
    ((config.adversarial?.share ?? 0) > 0 && (config.adversarial?.eps ?? 0) > 0) ||
    (config.proximalMu ?? 0) > 0 ||
    (config.weightDecay ?? 0) > 0 ||
    config.dpSgd !== undefined
  );
}

/**
 * One epoch of the plain loop (createTrainStep): each batch is a JS subarray of the shuffled epoch data copied
 * straight into a tensor, one forward and backward pass, the fused optimizer update. Yields to the event loop
 * between batches. The same numbers as `model.fit` (shuffle off) on the same data and optimizer.
 */
async function fitEpochFast(
  trainer: TrainStep,
  epochData: Dataset,
  config: TrainConfig,
  epoch: number,
  batches: number,
  onProgress?: (p: FitProgress) => void,
): Promise<{ loss: number; accuracy: number }> {
  const n = epochData.y.length;
  const f = trainer.inputSize;
  let lossSum = 0;
  let correct = 0;
  for (let b = 0; b < batches; b++) {
    const start = b * config.batchSize;
    const end = Math.min(n, start + config.batchSize);
    const step = trainer.step(epochData.x.subarray(start * f, end * f), epochData.y.subarray(start, end), end - start);
    lossSum += step.loss * (end - start);
    correct += step.correct;
    onProgress?.({ epoch, epochs: config.epochs, batch: b + 1, batches, loss: step.loss });
    // Let sockets and timers run between batches (see yieldToEventLoop).
    await yieldToEventLoop();
  }
  return { loss: lossSum / n, accuracy: correct / n };
}

/** One epoch of the custom loop: augmentation (already applied to `epochData`), adversarial examples, regularizers. */
async function fitEpochCustom(
  ctx: StepContext,
  epochData: Dataset,
  shape: number[],
  epoch: number,
  batches: number,
  onProgress?: (p: FitProgress) => void,
  dp?: DpSgdStepParams,
): Promise<{ loss: number; accuracy: number }> {
  const { config } = ctx;
  // DP-SGD runs whole batches only (see dpSgdSchedule): `used` ≤ n examples this epoch.
  const n = Math.min(epochData.y.length, dp ? batches * config.batchSize : Infinity);
  let lossSum = 0;
  let correct = 0;
  for (let b = 0; b < batches; b++) {
    const start = b * config.batchSize;
    const end = Math.min(n, start + config.batchSize);
    const x = inputTensor(epochData, shape, start, end);
    const onehot = oneHotTensor(epochData, start, end);
    let input: tf.Tensor | undefined;
    let partners: tf.Tensor | undefined;
    let delta: tf.Tensor | undefined;
    try {
      input = adversarialBatch(ctx, x, onehot, batchSeed(config.seed, epoch, b));
      partners = tradesPartners(ctx, x, batchSeed(config.seed, epoch, b));
      delta = embeddingDelta(ctx, x, onehot, batchSeed(config.seed, epoch, b));
      const step = dp ? dpSgdStep(ctx, input, onehot, dp) : trainStep(ctx, input, onehot, partners, delta);
      lossSum += step.loss * (end - start);
      correct += step.correct;
      onProgress?.({ epoch, epochs: config.epochs, batch: b + 1, batches, loss: step.loss });
    } finally {
      tf.dispose([x, onehot, ...(input ? [input] : []), ...(partners ? [partners] : []), ...(delta ? [delta] : [])]);
    }
    // Let timers and sockets run between batches (see yieldToEventLoop).
    await yieldToEventLoop();
  }
  return { loss: lossSum / n, accuracy: correct / n };
}

/**
 * Fine-tunes `model` on `train` with the coordinator's training config. Shuffling is seeded by
 * `config.seed` (tfjs's own shuffle uses Math.random), so the same config gives the same weights — except
 * under DP-SGD, whose batches the site samples from its own CSPRNG (epoch-order.ts).
 *
 * A plain config trains with the fast loop of `createTrainStep` (the same numbers as `model.fit`, without its
 * per-batch gather and per-variable optimizer kernels). The robust options (augmentation, adversarial
 * training, FedProx μ, weight decay) run a custom loop (`trainStep`) with the same seeded order and the same
 * fused optimizer; dropout and early
 * stopping (on `options.validation`) work with both. The model's weights at the call are the global
 * weights FedProx pulls towards. `config.dpSgd` runs record-level DP-SGD in the custom loop (`dpSgdStep`,
 * whole batches only) and returns the steps taken in `dpSgd` for the caller's accountant; the returned loss
 * and accuracy are not privatized. Returns the last epoch's mean loss and accuracy. Leaks no tensors.
 */
export async function fitLocal(
  model: tf.LayersModel,
  train: Dataset,
  config: TrainConfig,
  onProgress?: (p: FitProgress) => void,
  options: FitLocalOptions = {},
): Promise<FitMetrics> {
  const total = train.y.length;
  if (total === 0) throw new FedtuneError('data', 'no training examples');
  const n = Math.min(total, config.maxExamples ?? total);
  // Under DP-SGD the batches are the site's secret (epoch-order.ts), not drawn from the coordinator's seed.
  const rng = epochOrderRandom(config, options.dpSgdSampling);
  const shape = modelInputShape(model);
  if (!options.keepTrainable) setTrainableLayers(model, config.trainable);
  if (config.dropout !== undefined) setDropoutRate(model, config.dropout);
  const custom = needsCustomLoop(config);
  if (config.dpSgd && config.adversarial?.method === 'trades' && adversarialPlan(config, train)) {
    throw new FedtuneError('config', ADVERSARIAL_REFUSALS.dpSgdTrades);
  }
  if (config.dpSgd && config.earlyStopping && options.validation) {
    throw new FedtuneError('config', 'DP-SGD cannot be combined with early stopping: choosing the weights on validation records is outside its privacy accounting');
  }
  if (config.dpSgd && (config.adversarial?.awp ?? 0) > 0 && adversarialPlan(config, train)) {
    throw new FedtuneError('config', ADVERSARIAL_REFUSALS.dpSgdAwp);
  }
  // Adversarial training on embeddings needs an Embedding first layer (a clear error otherwise), and no DP-SGD.
  const embedding = config.adversarial?.space === 'embedding' ? splitAtEmbedding(model) : undefined;
  if (embedding && config.dpSgd) throw new FedtuneError('config', ADVERSARIAL_REFUSALS.dpSgdEmbedding);
  if (!embedding && startsWithEmbedding(model) && adversarialPlan(config, train)) {
    throw new FedtuneError('config', ADVERSARIAL_REFUSALS.inputSpaceTokens);
  }
  const schedule = config.dpSgd ? dpSgdSchedule(n, total, config.batchSize) : undefined;
  const batches = schedule ? schedule.batches : Math.ceil(n / config.batchSize);
  const dp: DpSgdStepParams | undefined = config.dpSgd
    ? { clip: config.dpSgd.clip, noiseMultiplier: config.dpSgd.noiseMultiplier, noise: options.dpSgdNoise ?? new ChaChaRandom() }
    : undefined;
  const augmenter: Augmenter | undefined = (config.augmentation?.share ?? 0) > 0 ? makeAugmenter(config.augmentation!, train) : undefined;
  let ctx: StepContext | undefined;
  let trainer: TrainStep | undefined;
  let optimizer: FusedOptimizer | undefined;
  if (!custom) {
    trainer = createTrainStep(model, config, { denseStack: options.denseStack });
  } else {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    optimizer = createFusedOptimizer(config, vars);
    const mu = config.proximalMu ?? 0;
    const [clipMin, clipMax] = inputGeometry(train).kind === 'image' ? [0, 1] : valueRange(train.x);
    ctx = {
      model,
      optimizer,
      config,
      vars,
      global: mu > 0 ? vars.map((v) => tf.keep(v.clone())) : undefined,
      clipMin,
      clipMax,
      adversarial: adversarialPlan(config, train),
      embedding,
    };
  }
  const stopping = config.earlyStopping && options.validation && options.validation.y.length > 0 ? config.earlyStopping : undefined;
  let best = { loss: Infinity, weights: undefined as Float32Array[] | undefined, epoch: 0 };
  let last: FitMetrics = { loss: NaN, accuracy: NaN, numExamples: n };
  let epochsRun = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const order = rng.shuffle(Array.from({ length: total }, (_, i) => i)).slice(0, n);
      const epochData = subset(train, order);
      if (augmenter) augmentInPlace(epochData, augmenter, config.seed, epoch);
      const m = ctx ? await fitEpochCustom(ctx, epochData, shape, epoch, batches, onProgress, dp) : await fitEpochFast(trainer!, epochData, config, epoch, batches, onProgress);
      last = { loss: m.loss, accuracy: m.accuracy, numExamples: n };
      epochsRun = epoch + 1;
      if (!Number.isFinite(m.loss)) break;
      if (stopping) {
        const v = evaluateModel(model, options.validation!).loss;
        if (v < best.loss - (stopping.minDelta ?? 0)) {
          best = { loss: v, weights: readModelWeights(model).arrays, epoch };
        } else if (epoch - best.epoch >= stopping.patience) {
          stoppedEarly = epoch + 1 < config.epochs;
          break;
        }
      }
    }
  } finally {
    optimizer?.dispose();
    trainer?.dispose();
    if (ctx?.global) tf.dispose(ctx.global);
  }
  if (!Number.isFinite(last.loss)) throw new FedtuneError('data', `local training diverged (loss ${last.loss})`);
  if (stopping && best.weights) writeModelWeights(model, best.weights);
  return {
    ...last,
    ...(epochsRun !== config.epochs || stopping ? { epochs: epochsRun } : {}),
    ...(stopping ? { stoppedEarly, validationLoss: best.loss } : {}),
    ...(config.dpSgd && schedule
      ? { dpSgd: { steps: epochsRun * batches, samplingRate: schedule.samplingRate, noiseMultiplier: config.dpSgd.noiseMultiplier, clip: config.dpSgd.clip } }
      : {}),
  };
}
