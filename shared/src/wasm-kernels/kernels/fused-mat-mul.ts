import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { replacementConfig, stockKernel } from '../stock-kernels.ts';
import { smallMatMul } from '../small-matmul.ts';

/**
 * tfjs's fused a·b + bias → activation (a Dense layer's forward pass): small products with no or a ReLU
 * activation on this module's small-matrix kernel (small-matmul.ts: the bias added to each finished sum,
 * then the ReLU), everything else on the stock kernel.
 */
function fusedMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b, bias, preluActivationWeights } = inputsOf<tf._FusedMatMulInputs>(args);
  const { transposeA, transposeB, activation } = attrsOf<tf._FusedMatMulAttrs>(args);
  if (!preluActivationWeights && (activation === 'linear' || activation === 'relu' || activation === undefined)) {
    const small = smallMatMul(args.backend, a, b, { transposeA, transposeB, ...(bias ? { bias } : {}), relu: activation === 'relu' });
    if (small) return small;
  }
  return stockKernel(tf._FusedMatMul).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

export const fusedMatMulConfig: tf.KernelConfig = replacementConfig(tf._FusedMatMul, fusedMatMul as unknown as tf.KernelFunc);
