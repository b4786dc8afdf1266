import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { inputTensor, modelInputShape } from './dataset-tensors.ts';

export interface EvaluationMetrics {
  accuracy: number;
  loss: number;
  numExamples: number;
}

/** Mean softmax cross-entropy (on logits) and accuracy of `model` on `ds`, in batches. Leaks no tensors. */
export function evaluateModel(model: tf.LayersModel, ds: Dataset, batchSize = 500): EvaluationMetrics {
  const n = ds.y.length;
  if (n === 0) return { accuracy: 0, loss: 0, numExamples: 0 };
  const shape = modelInputShape(model);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const [batchLoss, batchCorrect] = tf.tidy(() => {
      const logits = model.predict(inputTensor(ds, shape, start, end)) as tf.Tensor2D;
      const labels = tf.tensor1d(ds.y.subarray(start, end), 'int32');
      const onehot = tf.cast(tf.oneHot(labels, ds.numClasses), 'float32');
      const loss = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
      return [loss.dataSync()[0], hits.dataSync()[0]];
    });
    lossSum += batchLoss;
    correct += batchCorrect;
  }
  return { accuracy: correct / n, loss: lossSum / n, numExamples: n };
}
