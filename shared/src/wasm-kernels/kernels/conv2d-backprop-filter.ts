import * as tf from '@tensorflow/tfjs';
import { attrsOf, inputsOf, type KernelArgs } from '../kernel-args.ts';
import { asTensor } from '../as-tensor.ts';
import { cropForConv, shapeToChannelsLast, toChannelsLast } from '../conv-geometry.ts';
import { newKernelConfig } from '../stock-kernels.ts';

/**
 * dW[r,s,c,o] = Σ_{b,i,j} xPadded[b, i·sh + r, j·sw + s, c] · dy[b,i,j,o]: a convolution over the input
 * with channels and batch swapped ([c, H, W, b]) whose filter is the output gradient ([oh, ow, b, o]),
 * dilated by the forward stride. One XNNPACK conv2d instead of tfjs-backend-wasm's missing kernel.
 */
function conv2DBackpropFilter(args: KernelArgs): tf.Tensor {
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
