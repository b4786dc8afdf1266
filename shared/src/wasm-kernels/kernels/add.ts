import * as tf from '@tensorflow/tfjs';
import { inputsOf, type KernelArgs } from '../kernel-args.ts';
import { biasKernels } from '../bias-kernels.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';
import { replacementConfig, stockKernel } from '../stock-kernels.ts';

/** Whether `small` ([c] or [1, …, 1, c]) broadcasts along the last axis of the larger `big` ([…, c]). */
export function isTrailingVector(big: number[], small: number[]): boolean {
  if (big.length === 0 || small.length === 0 || small.length > big.length) return false;
  const c = big[big.length - 1]!;
  if (small[small.length - 1] !== c || !small.slice(0, -1).every((d) => d === 1)) return false;
  return big.reduce((a, b) => a * b, 1) > c;
}

/**
 * x + bias for a float32 tensor and a vector along its last axis (length a multiple of 4) — a conv or dense
 * layer's bias add while training, when tfjs does not fuse it — as one SIMD pass over the wasm heap
 * (bias-kernels.ts); the stock kernel's broadcasting path is several times slower. Every other Add runs the
 * stock kernel (XNNPACK for equal shapes).
 */
function add(args: KernelArgs): tf.TensorInfo {
  const { a, b } = inputsOf<tf.BinaryInputs>(args);
  const float = a.dtype === 'float32' && b.dtype === 'float32';
  const [big, small] = float && isTrailingVector(a.shape, b.shape) ? [a, b] : float && isTrailingVector(b.shape, a.shape) ? [b, a] : [];
  const memory = wasmBackendMemory(args.backend);
  const kernels = memory && biasKernels(memory);
  if (!big || !small || small.shape[small.shape.length - 1]! % 4 !== 0 || !kernels) {
    return stockKernel(tf.Add).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const { out, outView, inputViews } = allocateWithViews(asWasmHeapBackend(args.backend), big.shape, 'float32', [big, small]);
  const [xs, v] = inputViews as [Float32Array, Float32Array];
  kernels.addRow(xs.byteOffset, v.byteOffset, outView.byteOffset, v.length * 4, xs.length * 4);
  return out;
}

export const addConfig: tf.KernelConfig = replacementConfig(tf.Add, add as unknown as tf.KernelFunc);
