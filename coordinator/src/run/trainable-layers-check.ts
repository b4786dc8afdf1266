import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, type TrainConfig } from '@fedtune/shared';

/**
 * Refuses, before the run starts, a number of trainable layers (`--trainable K`, train.trainable) above the model's
 * layers with weights: the sites would train all of them, as `all` does, without a word (found by a new user:
 * `--trainable 99` on the 3-layer MLP ran exactly as `--trainable all`).
 */
export function checkTrainableLayers(train: Pick<TrainConfig, 'trainable'>, model: tf.LayersModel): void {
  if (typeof train.trainable !== 'number') return;
  const layers = model.layers.filter((l) => l.weights.length > 0).length;
  if (train.trainable > layers) throw new FedtuneError('config', `--trainable ${train.trainable} (train.trainable): the model has ${layers} layers with weights: give at most ${layers}, or all`);
}
