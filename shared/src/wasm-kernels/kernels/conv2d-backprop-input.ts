import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { cropForConv, shapeToChannelsLast, toChannelsFirst, toChannelsLast, zeroInterleave } from '../conv-geometry.ts';
import { replacementConfig } from '../stock-kernels.ts';
import { asWasmHeapBackend } from '../wasm-heap.ts';

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
function conv2DBackpropInput(args: KernelArgs): tf.Tensor {
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
