import * as tf from '@tensorflow/tfjs';
import type { AttackLoss } from './attack-loss.ts';

/**
 * The loss an attack ascends, summed over the batch, on the model's logits (models output logits, no softmax):
 *   - 'ce': the softmax cross-entropy;
 *   - 'margin': max over j ≠ y of z_j − z_y (Carlini & Wagner 2017's margin, unbounded and unsaturated).
 * On a confident model the cross-entropy saturates: in float32 the true class's probability rounds to 1 and the
 * gradient is what rounding left, so an attack on it can fail where one on the margin succeeds (gradient masking
 * by saturation, docs/robustness.md#two-losses).
 */
export function attackLoss(logits: tf.Tensor, onehot: tf.Tensor, loss: AttackLoss = 'ce'): tf.Scalar {
  return tf.tidy(() => {
    if (loss === 'ce') return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM) as tf.Scalar;
    const isTrue = tf.greater(onehot, 0.5);
    const trueLogit = tf.sum(tf.mul(logits, tf.cast(isTrue, 'float32')), 1);
    const bestOther = tf.max(tf.where(isTrue, tf.fill(logits.shape, Number.NEGATIVE_INFINITY), logits), 1);
    return tf.sum(tf.sub(bestOther, trueLogit));
  });
}

/** Gradient of `attackLoss` (default: the cross-entropy) with respect to the inputs, in inference mode (dropout off). */
export function inputGradient(model: tf.LayersModel, x: tf.Tensor, onehot: tf.Tensor, loss: AttackLoss = 'ce'): tf.Tensor {
  return tf.tidy(() => tf.grad((input: tf.Tensor) => attackLoss(model.apply(input, { training: false }) as tf.Tensor, onehot, loss))(x));
}
