import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { singleChannelConvKernel, type SingleChannelConvGeometry } from '../single-channel-conv-kernels.ts';
import { newKernelConfig, replacementConfig, stockKernel } from '../stock-kernels.ts';
import { asWasmHeapBackend } from '../wasm-heap.ts';

/** A kernel of this module only: relu?(conv2d(x, w) + b) for one input channel (single-channel-conv-kernels.ts). */
export const SINGLE_CHANNEL_CONV = 'FedtuneSingleChannelConv';

export interface SingleChannelConvInputs {
  /** [batch, H, W, 1] float32. */
  x: tf.TensorInfo;
  /** [fh, fw, 1, O] float32. */
  filter: tf.TensorInfo;
  /** [O] float32. */
  bias: tf.TensorInfo;
}

export interface SingleChannelConvAttrs {
  relu: boolean;
}

/** The kernel's geometry for these shapes, or undefined when they are not a one-channel 'valid' stride-1 convolution this kernel serves. */
export function singleChannelConvGeometry(x: readonly number[], filter: readonly number[]): SingleChannelConvGeometry | undefined {
  if (x.length !== 4 || filter.length !== 4 || x[3] !== 1 || filter[2] !== 1) return undefined;
  const [fh, fw, , o] = filter as [number, number, number, number];
  if (fh > x[1]! || fw > x[2]!) return undefined;
  return { filterHeight: fh, filterWidth: fw, outChannels: o, inWidth: x[2]! };
}

/** Whether the kernel runs here for these shapes (wasm backend with this module's kernels, wasm SIMD, a supported geometry). */
export function singleChannelConvAvailable(backend: unknown, x: readonly number[], filter: readonly number[]): boolean {
  const memory = wasmBackendMemory(backend);
  const geometry = singleChannelConvGeometry(x, filter);
  return !!memory && !!geometry && tf.getKernel(SINGLE_CHANNEL_CONV, 'wasm') !== undefined && singleChannelConvKernel(memory, geometry) !== undefined;
}

function singleChannelConv(args: KernelArgs): tf.TensorInfo {
  const { x, filter, bias } = inputsOf<SingleChannelConvInputs>(args);
  const { relu } = attrsOf<SingleChannelConvAttrs>(args);
  const geometry = singleChannelConvGeometry(x.shape, filter.shape);
  const memory = wasmBackendMemory(args.backend);
  const kernel = memory && geometry && singleChannelConvKernel(memory, geometry);
  if (!kernel || !geometry || x.dtype !== 'float32' || filter.dtype !== 'float32' || bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== geometry.outChannels) {
    throw new Error(`${SINGLE_CHANNEL_CONV}: needs float32 x [b, h, w, 1], filter [fh, fw, 1, O] (O a multiple of 4 up to 16) and bias [O], and wasm SIMD`);
  }
  const [batch, h, w] = x.shape as [number, number, number, number];
  const outRows = h - geometry.filterHeight + 1;
  const outCols = w - geometry.filterWidth + 1;
  const heap = asWasmHeapBackend(args.backend);
  const out = heap.makeOutput([batch, outRows, outCols, geometry.outChannels], 'float32');
  // Views after the allocation: it can grow the heap and detach earlier views.
  const [xs, ws, bs, os] = [x, filter, bias, out].map((t) => heap.typedArrayFromHeap(t));
  kernel.conv(xs!.byteOffset, ws!.byteOffset, bs!.byteOffset, os!.byteOffset, batch, outRows, outCols, h * w * 4, relu ? 1 : 0);
  return out;
}

export const singleChannelConvConfig: tf.KernelConfig = newKernelConfig(SINGLE_CHANNEL_CONV, singleChannelConv as unknown as tf.KernelFunc);

/**
 * tfjs's Conv2D for a one-channel NHWC float32 input, 'valid' padding, stride and dilation 1, 4–16 filters:
 * the same kernel with a zero bias and no ReLU. That is the first layer of the digit CNNs whenever tfjs does not
 * fuse it — while a gradient is recorded: every attack step and adversarial-training step (XNNPACK runs the
 * shape at a third of its rate). Every other convolution runs the stock kernel.
 */
function conv2D(args: KernelArgs): tf.TensorInfo {
  const { x, filter } = inputsOf<tf.Conv2DInputs>(args);
  const { strides, pad, dataFormat, dilations } = attrsOf<tf.Conv2DAttrs>(args);
  const unit = (v: number | [number, number]) => (Array.isArray(v) ? v[0] === 1 && v[1] === 1 : v === 1);
  const applies =
    (dataFormat ?? 'NHWC') === 'NHWC' && (pad === 'valid' || pad === 0) && unit(strides) && unit(dilations ?? 1) &&
    x.dtype === 'float32' && filter.dtype === 'float32' && singleChannelConvAvailable(args.backend, x.shape, filter.shape);
  if (!applies) return stockKernel(tf.Conv2D).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const heap = asWasmHeapBackend(args.backend);
  const bias = heap.makeOutput([filter.shape[3]!], 'float32');
  heap.typedArrayFromHeap(bias).fill(0);
  const out = singleChannelConv({ ...args, inputs: { x, filter, bias }, attrs: { relu: false } } as unknown as KernelArgs);
  (args.backend as tf.KernelBackend).disposeData(bias.dataId);
  return out;
}

export const conv2DConfig: tf.KernelConfig = replacementConfig(tf.Conv2D, conv2D as unknown as tf.KernelFunc);
