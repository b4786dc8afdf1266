import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { biasKernels } from '../bias-kernels.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';
import { replacementConfig, stockKernel } from '../stock-kernels.ts';

/** How many leading axes `axis` reduces when it is exactly axes 0..k−1 of a rank-r tensor (k < r), else 0. */
export function leadingAxes(axis: number | number[], rank: number): number {
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= rank) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

/**
 * Sum over the leading axes of a float32 tensor whose remaining size is a multiple of 4 — the bias gradient
 * of a conv or dense layer ([b, h, w, c] → [c]) — as one SIMD pass over the wasm heap (bias-kernels.ts), in
 * float32 row after row. The stock kernel first transposes the reduced axes to the end (a full copy). Every
 * other reduction runs the stock kernel.
 */
function sum(args: KernelArgs): tf.TensorInfo {
  const { x } = inputsOf<tf.SumInputs>(args);
  const { axis, keepDims } = attrsOf<tf.SumAttrs>(args);
  const k = x.dtype === 'float32' ? leadingAxes(axis, x.shape.length) : 0;
  const rest = x.shape.slice(k);
  const cols = rest.reduce((a, b) => a * b, 1);
  const memory = wasmBackendMemory(args.backend);
  const kernels = memory && biasKernels(memory);
  if (k === 0 || cols % 4 !== 0 || !kernels) return stockKernel(tf.Sum).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const shape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...rest] : rest;
  const { out, outView, inputViews } = allocateWithViews(asWasmHeapBackend(args.backend), shape, 'float32', [x]);
  const xs = inputViews[0]!;
  kernels.sumRows(xs.byteOffset, outView.byteOffset, cols * 4, xs.length * 4);
  return out;
}

export const sumConfig: tf.KernelConfig = replacementConfig(tf.Sum, sum as unknown as tf.KernelFunc);
