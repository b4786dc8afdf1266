import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { inputTensor, modelInputShape } from '../learning/dataset-tensors.ts';
import { predictAll } from '../learning/predict-all.ts';

/** 1 where `model`'s top class is the label, else 0, per example of `ds` (in order), in batches. Leaks no tensors. */
export function perExampleCorrect(model: tf.LayersModel, ds: Dataset, batchSize = 500): Uint8Array {
  const n = ds.y.length;
  const out = new Uint8Array(n);
  if (n === 0) return out;
  const shape = modelInputShape(model);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const predicted = tf.tidy(() => tf.argMax(predictAll(model, inputTensor(ds, shape, start, end)), 1).dataSync());
    for (let i = start; i < end; i++) out[i] = predicted[i - start] === ds.y[i] ? 1 : 0;
  }
  return out;
}
