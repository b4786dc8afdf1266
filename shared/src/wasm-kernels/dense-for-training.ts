import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD_BIAS_SUM } from './kernels/relu-grad-bias-sum.ts';

/**
 * act(x·W + b) for training (act: ReLU or none), as one `tf.customGrad` op whose forward multiplies the other
 * way round: (Wᵀ·xᵀ)ᵀ. tfjs-backend-wasm's matMul hands its right operand to XNNPACK, which packs it, and keeps
 * the packed copy per tensor — free when the same weights multiply many batches, but in training the weights
 * are new tensors after every step, so each forward packed the whole K × N weight matrix again (0.22 ms of a
 * 0.4 ms [32,784]·[784,128] product). Swapped, XNNPACK packs xᵀ, K × M with M the batch, instead: for a layer
 * with at least twice as many units as batch rows that is the smaller. The backward is the usual one (ReLU's
 * mask and the bias gradient in one pass when the units are a multiple of 4). Same values as x·W + b up to
 * float32 rounding (another summation order).
 */
export function denseForTraining(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, { relu, inputGradient }: { relu: boolean; inputGradient: boolean }): tf.Tensor2D {
  const forward = (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, wIn, bIn] = (inputGradient ? args.slice(0, 3) : [x, ...args.slice(0, 2)]) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const y = tf.tidy(() => {
      const z = tf.add(tf.transpose(tf.matMul(tf.transpose(wIn), tf.transpose(xIn))), bIn);
      return relu ? tf.relu(z) : z;
    }) as tf.Tensor2D;
    save([xIn, wIn, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ws, ys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        const units = ws.shape[1];
        const [dz, db] = relu && units % 4 === 0
          ? (tf.engine().runKernel(RELU_GRAD_BIAS_SUM, { dy: g, y: ys }) as [tf.Tensor2D, tf.Tensor1D])
          : tf.tidy(() => {
              const d = relu ? tf.mul(g, tf.step(ys)) : g;
              return [relu ? d : tf.clone(d), tf.sum(d, 0)] as [tf.Tensor2D, tf.Tensor1D];
            });
        const dw = tf.matMul(xs, dz, true, false);
        if (!inputGradient) return [dw, db];
        const dx = tf.matMul(dz, ws, false, true);
        return [dx, dw, db];
      },
    };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return (inputGradient ? op(x, w, b) : op(w, b)) as tf.Tensor2D;
}
