import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { cropForConv, shapeToChannelsLast, toChannelsLast } from '../conv-geometry.ts';
import { newKernelConfig } from '../stock-kernels.ts';
import { filterGradientKernels } from '../filter-gradient-kernels.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { allocateWithViews, asWasmHeapBackend } from '../wasm-heap.ts';

/** The first and one-past-last output index whose input index o·stride + tap − pad lies in [0, size). */
export function validOutputRange(tap: number, stride: number, pad: number, size: number, outSize: number): [number, number] {
  const first = Math.max(0, Math.ceil((pad - tap) / stride));
  const end = Math.min(outSize, Math.floor((size - 1 + pad - tap) / stride) + 1);
  return [first, Math.max(first, end)];
}

/**
 * The direct SIMD path (filter-gradient-kernels.ts): NHWC float32 with a multiple of 4 output channels, on a
 * runtime with wasm SIMD. Returns undefined when it does not apply, so the caller falls back to the XNNPACK
 * formulation below.
 */
function directFilterGradient(args: KernelArgs): tf.TensorInfo | undefined {
  const { x, dy } = inputsOf<tf.Conv2DBackpropFilterInputs>(args);
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrsOf<tf.Conv2DBackpropFilterAttrs>(args);
  if (dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape.length !== 4) return undefined;
  const outChannels = filterShape[3];
  if (outChannels % 4 !== 0) return undefined;
  const memory = wasmBackendMemory(args.backend);
  const kernels = memory && filterGradientKernels(memory);
  if (!kernels) return undefined;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const { out, outView, inputViews } = allocateWithViews(asWasmHeapBackend(args.backend), filterShape, 'float32', [x, dy]);
  const [xs, dys] = inputViews as [Float32Array, Float32Array];
  const quads = outChannels / 4;
  const v = quads % 4 === 0 ? 4 : quads % 3 === 0 ? 3 : quads % 2 === 0 ? 2 : 1;
  const tap = v === 4 ? kernels.filterTap4 : v === 3 ? kernels.filterTap3 : v === 2 ? kernels.filterTap2 : kernels.filterTap1;
  const oBytes = outChannels * 4;
  for (let r = 0; r < fh; r++) {
    const [i0, i1] = validOutputRange(r, sh, top, h, oh);
    for (let s = 0; s < fw; s++) {
      const [j0, j1] = validOutputRange(s, sw, left, w, ow);
      const xAt = xs.byteOffset + ((i0 * sh + r - top) * w + (j0 * sw + s - left)) * c * 4;
      const dyAt = dys.byteOffset + (i0 * ow + j0) * oBytes;
      const dwAt = outView.byteOffset + (r * fw + s) * c * oBytes;
      tap(xAt, dyAt, dwAt, c, oBytes, batchSize, i1 - i0, j1 - j0, h * w * c * 4, sh * w * c * 4, sw * c * 4, oh * ow * oBytes, ow * oBytes);
    }
  }
  return out;
}

/**
 * Direct SIMD accumulation on the heap where it applies (see directFilterGradient), otherwise:
 * dW[r,s,c,o] = Σ_{b,i,j} xPadded[b, i·sh + r, j·sw + s, c] · dy[b,i,j,o]: a convolution over the input
 * with channels and batch swapped ([c, H, W, b]) whose filter is the output gradient ([oh, ow, b, o]),
 * dilated by the forward stride. One XNNPACK conv2d instead of tfjs-backend-wasm's missing kernel.
 */
function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const direct = directFilterGradient(args);
  if (direct) return direct;
  return viaXnnpack(args);
}

function viaXnnpack(args: KernelArgs): tf.Tensor {
  const { x, dy } = inputsOf<tf.Conv2DBackpropFilterInputs>(args);
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrsOf<tf.Conv2DBackpropFilterAttrs>(args);
  return tf.tidy(() => {
    const channelsFirst = dataFormat === 'NCHW';
    const x4 = channelsFirst ? toChannelsLast(asTensor<tf.Rank.R4>(x)) : asTensor<tf.Rank.R4>(x);
    const dy4 = channelsFirst ? toChannelsLast(asTensor<tf.Rank.R4>(dy)) : asTensor<tf.Rank.R4>(dy);
    const info = tf.backend_util.computeConv2DInfo(
      channelsFirst ? shapeToChannelsLast(x.shape) : (x.shape as [number, number, number, number]),
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
    const { top, left } = info.padInfo;
    // The input rows the forward pass read: from -top to (oh-1)·sh + fh - 1 - top.
    const rows = { before: top, after: (oh - 1) * sh + fh - info.inHeight - top };
    const cols = { before: left, after: (ow - 1) * sw + fw - info.inWidth - left };
    const { x: window, pad: explicitPad } = cropForConv(x4, rows, cols);
    const xT = tf.transpose(window, [3, 1, 2, 0]); // [c, H, W, b]
    const dyT = tf.transpose(dy4, [1, 2, 0, 3]); // [oh, ow, b, o]
    const dW = tf.conv2d(xT, dyT, 1, explicitPad, 'NHWC', [sh, sw]); // [c, fh, fw, o]
    return tf.transpose(dW, [1, 2, 0, 3]);
  });
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = newKernelConfig(
  tf.Conv2DBackpropFilter,
  conv2DBackpropFilter as unknown as tf.KernelFunc,
);
