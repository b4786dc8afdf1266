import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD_BIAS_SUM } from './kernels/relu-grad-bias-sum.ts';
import { SINGLE_CHANNEL_CONV, singleChannelConvAvailable } from './kernels/single-channel-conv.ts';

export interface ConvBiasReluOptions {
  strides: [number, number];
  pad: 'same' | 'valid';
  /**
   * Whether the gradient of x is needed (default true). false when nothing upstream of x is trained (the
   * model's first layers): the backward then skips the input-gradient convolution, which tfjs's tape would
   * also prune, and x is not an input of the tape entry.
   */
  inputGradient?: boolean;
}

/** Whether the fused path below runs (else convBiasRelu is plain tf ops): wasm with this module's kernels. */
export function fusedConvBiasReluAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(RELU_GRAD_BIAS_SUM, 'wasm') !== undefined;
}

/**
 * relu(conv2d(x, w) + b) for NHWC float32 with one gradient-tape entry instead of three (Conv2D, Add, Relu):
 * the forward is one FusedConv2D kernel (XNNPACK conv with the bias and ReLU fused; tfjs's own fused op does
 * not fuse while a gradient is being recorded) — or, for a one-channel input with 'valid' padding and stride 1,
 * FedtuneSingleChannelConv (single-channel-conv-kernels.ts: XNNPACK runs that shape at a third of its rate) —, and the backward is one pass for ReLU's gradient and the bias
 * gradient (FedtuneReluGradBiasSum), then the Conv2DBackpropFilter and Conv2DBackpropInput kernels. Same values
 * as the unfused ops up to float32 rounding (XNNPACK starts its sum at the bias). Falls back to the unfused
 * ops when the fused path is not available or the output channels are not a multiple of 4.
 */
export function convBiasRelu(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, { strides, pad, inputGradient = true }: ConvBiasReluOptions): tf.Tensor4D {
  const outChannels = w.shape[3];
  if (!fusedConvBiasReluAvailable() || outChannels % 4 !== 0 || x.dtype !== 'float32') {
    return tf.relu(tf.add(tf.conv2d(x, w, strides, pad), b));
  }
  const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined, activation: 'relu' };
  const singleChannel = pad === 'valid' && strides[0] === 1 && strides[1] === 1 && singleChannelConvAvailable(tf.backend(), x.shape, w.shape);
  const forward = (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, wIn, bIn] = (inputGradient ? args.slice(0, 3) : [x, ...args.slice(0, 2)]) as tf.Tensor[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    // A one-channel input (the first layer of the digit CNNs), 'valid', stride 1: this module's own kernel.
    const y = (singleChannel
      ? tf.engine().runKernel(SINGLE_CHANNEL_CONV, { x: xIn, filter: wIn, bias: bIn }, { relu: true } as unknown as tf.NamedAttrMap)
      : tf.engine().runKernel(tf.FusedConv2D, { x: xIn, filter: wIn, bias: bIn }, attrs as unknown as tf.NamedAttrMap)) as tf.Tensor4D;
    save([xIn, wIn, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ws, ys] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const [dz, db] = tf.engine().runKernel(RELU_GRAD_BIAS_SUM, { dy: dy as tf.Tensor, y: ys }) as tf.Tensor[];
        const conv = { strides, pad, dataFormat: 'NHWC' };
        const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: xs, dy: dz! }, { ...conv, filterShape: ws.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
        if (!inputGradient) return [dw, db!];
        const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dz!, filter: ws }, { ...conv, inputShape: xs.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [dx, dw, db!];
      },
    };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return (inputGradient ? op(x, w, b) : op(w, b)) as tf.Tensor4D;
}
