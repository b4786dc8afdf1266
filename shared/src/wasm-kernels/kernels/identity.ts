import * as tf from '@tensorflow/tfjs';
import { inputsOf, type KernelArgs } from '../kernel-args.ts';
import { replacementConfig, stockKernel } from '../stock-kernels.ts';

/**
 * Identity as a second reference to the input's data, as tfjs's cpu backend runs it, instead of
 * tfjs-backend-wasm's copy into a new buffer. tfjs-core runs Identity for every tensor a gradient saves
 * (`engine.clone` in saveTensorsForBackwardMode: the activations, weights and inputs of every layer, each
 * training and attack step) and for every `tf.clone`, so the copies cost ~0.25 ms of a 4–5 ms CNN training
 * step. Sharing is sound because nothing writes a tensor's data in place: tfjs's kernels and this module's
 * write only their outputs, the fused optimizer gives each updated variable a new buffer (fused-optimizer.ts),
 * and the backend frees the data when its last reference is disposed (refCount, as for Reshape). Strings keep
 * the stock kernel.
 */
function identity(args: KernelArgs): tf.TensorInfo {
  const { x } = inputsOf<tf.IdentityInputs>(args);
  if (x.dtype === 'string') return stockKernel(tf.Identity).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  (args.backend as tf.KernelBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = replacementConfig(tf.Identity, identity as unknown as tf.KernelFunc);
