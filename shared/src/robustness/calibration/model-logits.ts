import * as tf from '@tensorflow/tfjs';
import { tidyValues } from '../../learning/tidy-values.ts';
import { featureSize, type Dataset } from '../../data/dataset.ts';
import { FedtuneError } from '../../errors.ts';
import { modelInputShape } from '../../learning/dataset-tensors.ts';
import { predictAll } from '../../learning/predict-all.ts';

/** The model's logits on every example of `ds`, as a flat n×k array, in batches inside `tidy` (leaks no tensors). */
export function modelLogits(model: tf.LayersModel, ds: Dataset, batchSize = 500): Float32Array {
  const n = ds.y.length;
  const k = ds.numClasses;
  const shape = modelInputShape(model);
  const f = featureSize(ds);
  const out = new Float32Array(n * k);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const values = tidyValues(() => {
      const logits = predictAll(model, tf.tensor(ds.x.subarray(start * f, end * f), [end - start, ...shape], 'float32')) as tf.Tensor2D;
      if (logits.shape[1] !== k) throw new FedtuneError('shape_mismatch', `model outputs ${logits.shape[1]} classes, data has ${k}`);
      return logits;
    });
    out.set(values, start * k);
  }
  return out;
}
