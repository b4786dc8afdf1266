import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import type { WeightArrays, Weights, WeightsManifest } from '../weights.ts';

/**
 * A model's weight variables in a fixed order: layer by layer, each layer's own order. `model.weights` is
 * not fixed: it lists trainable variables before non-trainable ones, so it changes when `trainable` flags
 * change (fine-tuning the head only, FedBN, BatchNorm statistics). For models without non-trainable
 * variables the two orders are the same.
 */
export function modelVariables(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((layer) => layer.weights);
}

export function modelManifest(model: tf.LayersModel): WeightsManifest {
  return modelVariables(model).map((w) => ({ name: w.originalName ?? w.name, shape: [...w.shape] as number[], dtype: 'float32' as const }));
}

/**
 * Copies a model's weights out as Float32Arrays. `getWeights()` returns the live variables: they are
 * read (copied), never disposed.
 */
export function readModelWeights(model: tf.LayersModel): Weights {
  const live = modelVariables(model).map((v) => v.read());
  return { manifest: modelManifest(model), arrays: live.map((t) => t.dataSync().slice() as Float32Array) };
}

/** Sets a model's weights from Float32Arrays. The temporary tensors are disposed after `setWeights` copies them. */
export function writeModelWeights(model: tf.LayersModel, arrays: WeightArrays): void {
  const manifest = modelManifest(model);
  if (arrays.length !== manifest.length) {
    throw new FedtuneError('shape_mismatch', `model has ${manifest.length} weight tensors, got ${arrays.length}`);
  }
  const tensors = arrays.map((a, i) => {
    const expected = manifest[i].shape.reduce((x, y) => x * y, 1);
    if (a.length !== expected) throw new FedtuneError('shape_mismatch', `weight ${manifest[i].name}: expected ${expected} values, got ${a.length}`);
    return tf.tensor(a, manifest[i].shape, 'float32');
  });
  try {
    modelVariables(model).forEach((v, i) => v.write(tensors[i]));
  } finally {
    tf.dispose(tensors);
  }
}
