import * as tf from '@tensorflow/tfjs';
import { inputsOf, type KernelArgs } from '../kernel-args.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { reluGradKernels } from '../relu-grad-kernels.ts';
import { newKernelConfig } from '../stock-kernels.ts';
import { asWasmHeapBackend } from '../wasm-heap.ts';

/** A kernel of this module only (tfjs has none): ReLU's gradient and the bias gradient in one pass. */
export const RELU_GRAD_BIAS_SUM = 'FedtuneReluGradBiasSum';

export interface ReluGradBiasSumInputs {
  /** The gradient of the ReLU's output. */
  dy: tf.TensorInfo;
  /** The ReLU's output (same shape as dy, last axis = channels). */
  y: tf.TensorInfo;
}

/**
 * [dz, db] = [dy · (y > 0), Σ over every axis but the last of dz] for float32 dy and y of the same shape whose
 * last axis is a multiple of 4 (relu-grad-kernels.ts). The caller (conv-bias-relu.ts) checks those conditions
 * and uses tf ops otherwise; this kernel throws a plain Error if called without them.
 */
function reluGradBiasSum(args: KernelArgs): tf.TensorInfo[] {
  const { dy, y } = inputsOf<ReluGradBiasSumInputs>(args);
  const channels = dy.shape[dy.shape.length - 1] ?? 0;
  const memory = wasmBackendMemory(args.backend);
  const kernels = memory && reluGradKernels(memory);
  if (!kernels || dy.dtype !== 'float32' || y.dtype !== 'float32' || dy.shape.length < 2 || channels % 4 !== 0 || !tf.util.arraysEqual(dy.shape, y.shape)) {
    throw new Error(`${RELU_GRAD_BIAS_SUM}: needs float32 dy and y of one shape with channels a multiple of 4, and wasm SIMD`);
  }
  const heap = asWasmHeapBackend(args.backend);
  const dz = heap.makeOutput(dy.shape, 'float32');
  const db = heap.makeOutput([channels], 'float32');
  // Views after both allocations: an allocation can grow the heap and detach earlier views.
  const [dys, ys, dzs, dbs] = [dy, y, dz, db].map((t) => heap.typedArrayFromHeap(t));
  kernels.reluGradBiasSum(dys!.byteOffset, ys!.byteOffset, dzs!.byteOffset, dbs!.byteOffset, channels * 4, dys!.length * 4);
  return [dz, db];
}

export const reluGradBiasSumConfig: tf.KernelConfig = newKernelConfig(RELU_GRAD_BIAS_SUM, reluGradBiasSum as unknown as tf.KernelFunc);
