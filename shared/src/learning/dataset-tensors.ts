import * as tf from '@tensorflow/tfjs';
import { featureSize, type Dataset } from '../data/dataset.ts';

/** Input tensor of examples [start, end) shaped for the model's input (batch dimension first). */
export function inputTensor(ds: Dataset, inputShape: number[], start = 0, end = ds.y.length): tf.Tensor {
  const f = featureSize(ds);
  return tf.tensor(ds.x.subarray(start * f, end * f), [end - start, ...inputShape], 'float32');
}

/** One-hot label tensor of examples [start, end). */
export function oneHotTensor(ds: Dataset, start = 0, end = ds.y.length): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(ds.y.subarray(start, end), 'int32'), ds.numClasses), 'float32'));
}

/** The model's per-example input shape (without the batch dimension). */
export function modelInputShape(model: tf.LayersModel): number[] {
  return model.inputs[0].shape.slice(1).map((d) => d ?? 1);
}
