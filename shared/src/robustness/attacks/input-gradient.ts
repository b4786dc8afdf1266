import * as tf from '@tensorflow/tfjs';

/**
 * Gradient of the summed softmax cross-entropy (on the logits: models output logits, no softmax) with
 * respect to the inputs, in inference mode (dropout off).
 */
export function inputGradient(model: tf.LayersModel, x: tf.Tensor, onehot: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const lossOf = (input: tf.Tensor) => {
      const logits = model.apply(input, { training: false }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM);
    };
    return tf.grad(lossOf)(x);
  });
}
