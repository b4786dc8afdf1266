import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { cropForConv, zeroInterleave } from '../conv-geometry.ts';
import { newKernelConfig } from '../stock-kernels.ts';

/**
 * dx = depthwise conv of the zero-interleaved, padded output gradient with the spatially reversed filter
 * (reshaped to one output per gradient channel, same dilation), then, for a channel multiplier m > 1, the
 * sum over the m gradient channels of each input channel.
 */
function depthwiseConv2dNativeBackpropInput(args: KernelArgs): tf.Tensor {
  const { dy, filter } = inputsOf<tf.DepthwiseConv2dNativeBackpropInputInputs>(args);
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrsOf<tf.DepthwiseConv2dNativeBackpropInputAttrs>(args);
  return tf.tidy(() => {
    const dy4 = asTensor<tf.Rank.R4>(dy);
    const w = asTensor<tf.Rank.R4>(filter);
    const info = tf.backend_util.computeConv2DInfo(inputShape, w.shape, strides, dilations ?? 1, pad, dimRoundingMode, true);
    const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const { effectiveFilterHeight: efh, effectiveFilterWidth: efw, dilationHeight: dh, dilationWidth: dw } = info;
    const [fh, fw, c, m] = w.shape;
    const [n, h, wd] = inputShape;
    const { top, left } = info.padInfo;
    const spread = zeroInterleave(dy4, sh, sw);
    const rows = { before: efh - 1 - top, after: h + top - (oh - 1) * sh - 1 - (sh - 1) };
    const cols = { before: efw - 1 - left, after: wd + left - (ow - 1) * sw - 1 - (sw - 1) };
    const { x: window, pad: explicitPad } = cropForConv(spread, rows, cols);
    const wR = tf.reshape<tf.Rank.R4>(tf.reverse(w, [0, 1]), [fh, fw, c * m, 1]);
    const dx = tf.depthwiseConv2d(window, wR, 1, explicitPad, 'NHWC', [dh, dw]);
    return m === 1 ? dx : tf.sum(tf.reshape(dx, [n, h, wd, c, m]), 4);
  });
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = newKernelConfig(
  tf.DepthwiseConv2dNativeBackpropInput,
  depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
);
