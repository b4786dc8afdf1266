import * as tf from '@tensorflow/tfjs';
import { SIGNED_STEP } from '../../wasm-kernels/kernels/signed-step.ts';

/**
 * sign(g) exactly: +1 where g > 0, −1 where g < 0, 0 at ±0 and NaN. tf.sign on tfjs-backend-wasm 4.22 returns
 * 0 for |g| < 2^-23 (1.19e-7), so an attack stepping by it there ignores the small components of a gradient —
 * most of them, for a confident model — and looks weaker than it is (the cpu and webgl backends' sign is exact).
 */
export function exactSign(g: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(g, 0), 'float32'), tf.cast(tf.less(g, 0), 'float32')));
}

/** Whether the fused wasm kernel can take this step (wasm backend, this module's kernel registered, size a multiple of 4). */
function fusedStepAvailable(x: tf.Tensor): boolean {
  return tf.getBackend() === 'wasm' && x.dtype === 'float32' && x.size % 4 === 0 && tf.getKernel(SIGNED_STEP, 'wasm') !== undefined;
}

/**
 * An L∞ attack's step: min(max(x + step·sign(g), lo), hi), sign exact (exactSign). `step` is a number (one
 * step for every value) or a tensor that broadcasts against x (per-feature steps). On the wasm backend a
 * numeric step is one fused SIMD pass (FedtuneSignedStep) instead of five kernels; elsewhere tf ops —
 * the same values either way (tests/robustness/signed-step.test.ts).
 */
export function signedStep(x: tf.Tensor, g: tf.Tensor, step: number | tf.Tensor, lo: tf.Tensor, hi: tf.Tensor): tf.Tensor {
  if (typeof step === 'number' && fusedStepAvailable(x) && [g, lo, hi].every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, x.shape))) {
    return tf.engine().runKernel(SIGNED_STEP, { x, g, lo, hi }, { step }) as tf.Tensor;
  }
  return tf.tidy(() => tf.minimum(tf.maximum(tf.add(x, tf.mul(exactSign(g), step)), lo), hi));
}
