import * as tf from '@tensorflow/tfjs';
import { subset, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { SeededRandom } from '../random/seeded-random.ts';
import { inputTensor, modelInputShape, oneHotTensor } from './dataset-tensors.ts';

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
}

function makeOptimizer(config: TrainConfig): tf.Optimizer {
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

/**
 * Fine-tunes `model` on `train` with the coordinator's training config. Shuffling is seeded by
 * `config.seed` (tfjs's own shuffle uses Math.random), so the same config gives the same weights.
 * Returns the last epoch's mean loss and accuracy. Leaks no tensors.
 */
export async function fitLocal(model: tf.LayersModel, train: Dataset, config: TrainConfig, onProgress?: (p: FitProgress) => void): Promise<FitMetrics> {
  const total = train.y.length;
  if (total === 0) throw new FedtuneError('data', 'no training examples');
  const n = Math.min(total, config.maxExamples ?? total);
  const rng = new SeededRandom(config.seed);
  const shape = modelInputShape(model);
  setTrainableLayers(model, config.trainable);
  const optimizer = makeOptimizer(config);
  model.compile({ optimizer, loss: tf.losses.softmaxCrossEntropy, metrics: ['accuracy'] });
  const batches = Math.ceil(n / config.batchSize);
  let last: FitMetrics = { loss: NaN, accuracy: NaN, numExamples: n };
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const order = rng.shuffle(Array.from({ length: total }, (_, i) => i)).slice(0, n);
      const epochData = subset(train, order);
      const xs = inputTensor(epochData, shape);
      const ys = oneHotTensor(epochData);
      try {
        const history = await model.fit(xs, ys, {
          epochs: 1,
          batchSize: config.batchSize,
          shuffle: false,
          verbose: 0,
          callbacks: onProgress
            ? { onBatchEnd: async (batch, logs) => onProgress({ epoch, epochs: config.epochs, batch: batch + 1, batches, loss: Number(logs?.loss ?? NaN) }) }
            : undefined,
        });
        const loss = Number(history.history.loss[0]);
        const acc = Number((history.history.acc ?? history.history.accuracy)?.[0] ?? NaN);
        last = { loss, accuracy: acc, numExamples: n };
      } finally {
        tf.dispose([xs, ys]);
      }
    }
  } finally {
    optimizer.dispose();
  }
  if (!Number.isFinite(last.loss)) throw new FedtuneError('data', `local training diverged (loss ${last.loss})`);
  return last;
}
