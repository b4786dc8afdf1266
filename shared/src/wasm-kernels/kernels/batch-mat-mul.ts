import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { replacementConfig, stockKernel } from '../stock-kernels.ts';
import { smallMatMul } from '../small-matmul.ts';

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return tf.transpose(t, perm);
}

/**
 * Small products (up to SMALL_GEMM_MAX_MACS multiply-adds, one matrix each) run on this module's small-matrix
 * kernel (small-matmul.ts), transposes included. Larger ones on XNNPACK: tfjs-backend-wasm's BatchMatMul only
 * reaches its fast path for untransposed operands, and every Dense backward pass multiplies by a transpose;
 * transposing explicitly first and then running the stock kernel untransposed is 2–45× faster.
 */
function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = inputsOf<tf.BatchMatMulInputs>(args);
  const { transposeA, transposeB } = attrsOf<tf.BatchMatMulAttrs>(args);
  const small = smallMatMul(args.backend, a, b, { transposeA, transposeB });
  if (small) return small;
  const stock = stockKernel(tf.BatchMatMul).kernelFunc;
  if (!transposeA && !transposeB) return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  // The stock kernel's output lives outside the engine's scopes, so the tidy frees only the transposes.
  return tf.tidy(() =>
    stock({
      ...(args as unknown as Parameters<tf.KernelFunc>[0]),
      inputs: { a: transposeA ? swapLastTwo(asTensor(a)) : a, b: transposeB ? swapLastTwo(asTensor(b)) : b },
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    }) as unknown as tf.Tensor,
  ) as unknown as tf.TensorInfo;
}

export const batchMatMulConfig: tf.KernelConfig = replacementConfig(tf.BatchMatMul, batchMatMul as unknown as tf.KernelFunc);
