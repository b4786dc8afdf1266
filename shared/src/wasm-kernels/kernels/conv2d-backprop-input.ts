import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { cropForConv, shapeToChannelsLast, toChannelsFirst, toChannelsLast, zeroInterleave } from '../conv-geometry.ts';
import { replacementConfig } from '../stock-kernels.ts';
import { asWasmHeapBackend } from '../wasm-heap.ts';
import { wasmBackendMemory } from '../optimizer-kernels.ts';
import { singleOutputConvKernel } from '../single-output-conv-kernels.ts';

/**
 * The filter [fh, fw, in, out] spatially reversed with its channels swapped — [fh, fw, out, in], element (r, s, o, c)
 * = w[fh − 1 − r, fw − 1 − s, c, o] — in one pass over the filter as it sits on the wasm heap (a Reverse and a
 * Transpose kernel cost ~20× more for the small filters of a training step).
 */
export function reversedSwappedFilter(backend: unknown, w: tf.TensorInfo): tf.Tensor4D {
  const [fh, fw, c, o] = w.shape as [number, number, number, number];
  const src = asWasmHeapBackend(backend).typedArrayFromHeap(w) as Float32Array;
  const out = new Float32Array(src.length);
  let k = 0;
  for (let r = 0; r < fh; r++) {
    for (let s = 0; s < fw; s++) {
      const base = ((fh - 1 - r) * fw + (fw - 1 - s)) * c * o;
      for (let oc = 0; oc < o; oc++) for (let ic = 0; ic < c; ic++) out[k++] = src[base + ic * o + oc]!;
    }
  }
  return tf.tensor4d(out, [fh, fw, o, c]);
}

/**
 * dx = conv2d of the output gradient, zero-interleaved by the stride and padded by (filter - 1 - pad), with
 * the spatially reversed filter whose in/out channels are swapped. Runs on XNNPACK's conv2d, several times
 * faster than tfjs-backend-wasm's loop kernel.
 */
/**
 * dx of a convolution whose input has ONE channel (the digit CNNs' first layer, whose input gradient every
 * attack and adversarial-training step needs), NHWC, stride 1: the output gradient zero-padded to a full
 * convolution, then single-output-conv-kernels.ts's one-output-channel convolution with the reversed filter on
 * the heap (XNNPACK runs that shape, a GEMM with N = 1, at ~4 GFLOP/s). Undefined when it does not apply.
 */
function singleChannelInputGradient(args: KernelArgs): tf.TensorInfo | undefined {
  const { dy, filter } = inputsOf<tf.Conv2DBackpropInputInputs>(args);
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrsOf<tf.Conv2DBackpropInputAttrs>(args);
  if (dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32' || filter.shape[2] !== 1 || dy.shape.length !== 4) return undefined;
  const memory = wasmBackendMemory(args.backend);
  if (!memory) return undefined;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow, outChannels: o, batchSize, inHeight, inWidth } = info;
  if (sh !== 1 || sw !== 1) return undefined;
  const { top, left } = info.padInfo;
  const rows = { before: fh - 1 - top, after: inHeight + top - oh };
  const cols = { before: fw - 1 - left, after: inWidth + left - ow };
  if (rows.before < 0 || rows.after < 0 || cols.before < 0 || cols.after < 0) return undefined;
  const paddedWidth = ow + cols.before + cols.after;
  const kernel = singleOutputConvKernel(memory, { filterHeight: fh, filterWidth: fw, channels: o, inWidth: paddedWidth });
  if (!kernel) return undefined;
  const paddedHeight = oh + rows.before + rows.after;
  const flipped = reversedSwappedFilter(args.backend, filter); // [fh, fw, O, 1]: per tap the O weights in a row
  const heap = asWasmHeapBackend(args.backend);
  const padded = heap.makeOutput([batchSize, paddedHeight, paddedWidth, o], 'float32');
  const out = heap.makeOutput([batchSize, inHeight, inWidth, 1], 'float32');
  // Views after the allocations: one can grow the heap and detach earlier views.
  const [dys, ins, ws, outs] = [dy, padded, flipped, out].map((t) => heap.typedArrayFromHeap(t));
  const rowBytes = paddedWidth * o * 4;
  kernel.pad(dys!.byteOffset, ins!.byteOffset, batchSize, oh, ow * o * 4, rowBytes, rows.before * rowBytes, rows.after * rowBytes, cols.before * o * 4);
  kernel.conv(ins!.byteOffset, ws!.byteOffset, outs!.byteOffset, batchSize, inHeight, inWidth, paddedHeight * rowBytes);
  flipped.dispose();
  (args.backend as tf.KernelBackend).disposeData(padded.dataId);
  return out;
}

function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  return singleChannelInputGradient(args) ?? viaXnnpack(args);
}

function viaXnnpack(args: KernelArgs): tf.Tensor {
  const { dy, filter } = inputsOf<tf.Conv2DBackpropInputInputs>(args);
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrsOf<tf.Conv2DBackpropInputAttrs>(args);
  return tf.tidy(() => {
    const channelsFirst = dataFormat === 'NCHW';
    const dy4 = channelsFirst ? toChannelsLast(asTensor<tf.Rank.R4>(dy)) : asTensor<tf.Rank.R4>(dy);
    const w = asTensor<tf.Rank.R4>(filter);
    const info = tf.backend_util.computeConv2DInfo(
      channelsFirst ? shapeToChannelsLast(inputShape) : inputShape,
      w.shape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
    const { top, left } = info.padInfo;
    const spread = zeroInterleave(dy4, sh, sw);
    const rows = { before: fh - 1 - top, after: info.inHeight + top - (oh - 1) * sh - 1 - (sh - 1) };
    const cols = { before: fw - 1 - left, after: info.inWidth + left - (ow - 1) * sw - 1 - (sw - 1) };
    const { x: window, pad: explicitPad } = cropForConv(spread, rows, cols);
    const wT = filter.dtype === 'float32' ? reversedSwappedFilter(args.backend, filter) : tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]); // [fh, fw, out, in]
    const dx = tf.conv2d(window, wT, 1, explicitPad);
    return channelsFirst ? toChannelsFirst(dx) : dx;
  });
}

export const conv2DBackpropInputConfig: tf.KernelConfig = replacementConfig(
  tf.Conv2DBackpropInput,
  conv2DBackpropInput as unknown as tf.KernelFunc,
);
