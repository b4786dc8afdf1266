import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { inputTensor, modelInputShape } from './dataset-tensors.ts';
import { yieldToEventLoop } from '../client/yield-to-event-loop.ts';
import { predictAll } from './predict-all.ts';

export interface EvaluationMetrics {
  accuracy: number;
  loss: number;
  numExamples: number;
}

/** Mean softmax cross-entropy (on logits) and accuracy of `model` on `ds`, in batches. Leaks no tensors. */
export function evaluateModel(model: tf.LayersModel, ds: Dataset, batchSize = 500): EvaluationMetrics {
  const steps = evaluationSteps(model, ds, batchSize);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/**
 * `evaluateModel` with a turn of the event loop between batches: the same batches in the same order, so the
 * same numbers to the bit, without holding a server's event loop for the whole holdout (a coordinator that
 * evaluates on its main thread while its evaluation worker starts).
 */
export async function evaluateModelYielding(model: tf.LayersModel, ds: Dataset, batchSize = 500): Promise<EvaluationMetrics> {
  const steps = evaluationSteps(model, ds, batchSize);
  let step = steps.next();
  while (!step.done) {
    await yieldToEventLoop();
    step = steps.next();
  }
  return step.value;
}

/** The evaluation one batch at a time: pauses between batches, returns the metrics. */
function* evaluationSteps(model: tf.LayersModel, ds: Dataset, batchSize: number): Generator<void, EvaluationMetrics> {
  const n = ds.y.length;
  if (n === 0) return { accuracy: 0, loss: 0, numExamples: 0 };
  const shape = modelInputShape(model);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    if (start > 0) yield;
    const [batchLoss, batchCorrect] = evaluateBatch(model, ds, shape, start, Math.min(n, start + batchSize));
    lossSum += batchLoss;
    correct += batchCorrect;
  }
  return { accuracy: correct / n, loss: lossSum / n, numExamples: n };
}

/** Summed softmax cross-entropy and correct predictions of one batch [start, end). */
function evaluateBatch(model: tf.LayersModel, ds: Dataset, shape: number[], start: number, end: number): [number, number] {
  return tf.tidy(() => {
    const logits = predictAll(model, inputTensor(ds, shape, start, end)) as tf.Tensor2D;
    const labels = tf.tensor1d(ds.y.subarray(start, end), 'int32');
    const onehot = tf.cast(tf.oneHot(labels, ds.numClasses), 'float32');
    const loss = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM);
    const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
    return [loss.dataSync()[0], hits.dataSync()[0]] as [number, number];
  });
}
