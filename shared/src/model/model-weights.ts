import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';
import type { WeightArrays, Weights, WeightsManifest } from '../weights.ts';

export function modelManifest(model: tf.LayersModel): WeightsManifest {
  return model.weights.map((w) => ({ name: w.originalName ?? w.name, shape: [...w.shape] as number[], dtype: 'float32' as const }));
}

/**
 * Copies a model's weights out as Float32Arrays. `getWeights()` returns the live variables: they are
 * read (copied), never disposed.
 */
export function readModelWeights(model: tf.LayersModel): Weights {
  const live = model.getWeights();
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
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}
