import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { cropForConv } from '../conv-geometry.ts';
import { newKernelConfig } from '../stock-kernels.ts';

/**
 * dW[r,s,c,k] = Σ_{b,i,j} xPadded[b, i·sh + r·dh, j·sw + s·dw, c] · dy[b,i,j,c·m+k], computed with the batch
 * folded into the channels: one depthwise conv over a single [1, H, W, b·c] image whose filter is the
 * output gradient [oh, ow, b·c, m], dilated by the forward stride and strided by the forward dilation, then
 * a sum over the batch.
 */
function depthwiseConv2dNativeBackpropFilter(args: KernelArgs): tf.Tensor {
  const { x, dy } = inputsOf<tf.DepthwiseConv2dNativeBackpropFilterInputs>(args);
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrsOf<tf.DepthwiseConv2dNativeBackpropFilterAttrs>(args);
  return tf.tidy(() => {
    const x4 = asTensor<tf.Rank.R4>(x);
    const dy4 = asTensor<tf.Rank.R4>(dy);
    const info = tf.backend_util.computeConv2DInfo(x4.shape, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
    const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const { effectiveFilterHeight: efh, effectiveFilterWidth: efw, dilationHeight: dh, dilationWidth: dw } = info;
    const [fh, fw, c, m] = filterShape;
    const n = x4.shape[0];
    const { top, left } = info.padInfo;
    const rows = { before: top, after: (oh - 1) * sh + efh - info.inHeight - top };
    const cols = { before: left, after: (ow - 1) * sw + efw - info.inWidth - left };
    const { x: window, pad: explicitPad } = cropForConv(x4, rows, cols);
    const [, hw, ww] = window.shape;
    const image = tf.reshape<tf.Rank.R4>(tf.transpose(window, [1, 2, 0, 3]), [1, hw, ww, n * c]);
    const kernel = tf.reshape<tf.Rank.R4>(tf.transpose(dy4, [1, 2, 0, 3]), [oh, ow, n * c, m]);
    const perImage = tf.depthwiseConv2d(image, kernel, [dh, dw], explicitPad, 'NHWC', [sh, sw]); // [1, fh, fw, n·c·m]
    return n === 1 ? tf.reshape(perImage, [fh, fw, c, m]) : tf.reshape(tf.sum(tf.reshape(perImage, [fh, fw, n, c * m]), 2), [fh, fw, c, m]);
  });
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = newKernelConfig(
  tf.DepthwiseConv2dNativeBackpropFilter,
  depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
);
