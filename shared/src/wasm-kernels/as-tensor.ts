import * as tf from '@tensorflow/tfjs';

/**
 * The tensor behind a kernel input. Ops hand kernels their input `Tensor`s; a bare `TensorInfo` (a kernel
 * calling another kernel) is wrapped in a new tensor that holds its own reference to the data, so disposing
 * the wrapper (e.g. at the end of a `tidy`) leaves the caller's data alive.
 */
export function asTensor<R extends tf.Rank = tf.Rank>(info: tf.TensorInfo): tf.Tensor<R> {
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  tf.engine().backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}
