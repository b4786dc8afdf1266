import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../errors.ts';

/** What one evaluation of the fused loss measured on its batch. */
export interface BatchStats {
  /** Mean softmax cross-entropy of the batch. */
  loss: number;
  /** Examples whose largest logit (the first, on ties) is their label. */
  correct: number;
}

const f = Math.fround;

/**
 * The fused loss's arithmetic on plain arrays: for `b` rows of `k` logits in `values` (row-major) and their
 * labels, the mean softmax cross-entropy and the correct count (the first largest logit), and the gradient
 * (softmax − one-hot)/b written into `grad` (b·k values), with float32 rounding at each step as tfjs's kernels
 * do. Shared by the differentiable op below and the dense-stack step (dense-stack-step.ts), which runs it on
 * the wasm heap.
 */
export function softmaxCrossEntropyRows(values: Float32Array, labels: Int32Array, b: number, k: number, grad: Float32Array): BatchStats {
  const invB = f(1 / b);
  let lossSum = 0;
  let correct = 0;
  for (let r = 0; r < b; r++) {
    const o = r * k;
    const y = labels[r]!;
    if (!(y >= 0 && y < k)) throw new FedtuneError('data', `label ${y} outside 0..${k - 1}`);
    let max = values[o]!;
    let arg = 0;
    for (let j = 1; j < k; j++) {
      if (values[o + j]! > max) {
        max = values[o + j]!;
        arg = j;
      }
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum = f(sum + f(Math.exp(f(values[o + j]! - max))));
    const lse = f(max + f(Math.log(sum)));
    for (let j = 0; j < k; j++) {
      const p = f(Math.exp(f(values[o + j]! - lse)));
      grad[o + j] = f(invB * (j === y ? f(p - 1) : p));
    }
    lossSum = f(lossSum - f(values[o + y]! - lse));
    if (arg === y) correct++;
  }
  return { loss: f(lossSum / b), correct };
}

/**
 * The mean softmax cross-entropy of `logits` [b, k] against class indices `labels` (b of them, in [0, k)) as
 * one differentiable op: the forward pass reads the logits once and computes, in one loop, the loss, the
 * correct count (written to `stats`) and the gradient (softmax − one-hot)/b, which the backward pass returns.
 * It replaces tf.losses.softmaxCrossEntropy on one-hot labels (about 15 kernels forward and backward) plus
 * the accuracy metric's argMax/equal/sum, with float32 rounding at each step as tfjs's kernels do.
 */
export function softmaxCrossEntropyFromLabels(logits: tf.Tensor, labels: Int32Array, stats: BatchStats): tf.Scalar {
  if (logits.rank !== 2 || logits.shape[0] !== labels.length) {
    throw new FedtuneError('shape_mismatch', `logits of shape [${logits.shape.join(', ')}] for ${labels.length} labels: expected [${labels.length}, classes]`);
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = args[0] as tf.Tensor;
    const [b, k] = z.shape as [number, number];
    const values = z.dataSync() as Float32Array;
    const grad = new Float32Array(b * k);
    const { loss, correct } = softmaxCrossEntropyRows(values, labels, b, k, grad);
    stats.loss = loss;
    stats.correct = correct;
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor) => {
        const scale = dy.dataSync()[0]!;
        if (scale !== 1) for (let i = 0; i < grad.length; i++) grad[i] = f(grad[i]! * scale);
        return tf.tensor(grad, z.shape, 'float32');
      },
    };
  });
  return op(logits) as tf.Scalar;
}
