import * as tf from '@tensorflow/tfjs';

/** Each example's L2 norm, shaped [n, 1, …, 1] so it broadcasts over the example (call inside tidy). */
export function exampleNorms(t: tf.Tensor): tf.Tensor {
  const n = t.shape[0];
  const ones = t.shape.slice(1).map(() => 1);
  return tf.sqrt(tf.sum(tf.square(tf.reshape(t, [n, -1])), 1)).reshape([n, ...ones]);
}

/** Each example scaled to unit L2 norm (a zero example stays zero). Call inside tidy. */
export function normalizeL2(t: tf.Tensor): tf.Tensor {
  return tf.div(t, tf.maximum(exampleNorms(t), 1e-12));
}

/** Each example projected onto the L2 ball of radius `eps` (shorter ones unchanged). Call inside tidy. */
export function projectL2(t: tf.Tensor, eps: number): tf.Tensor {
  return tf.mul(t, tf.minimum(1, tf.div(eps, tf.maximum(exampleNorms(t), 1e-12))));
}
