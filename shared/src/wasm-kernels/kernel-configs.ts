import type * as tf from '@tensorflow/tfjs';
import { batchMatMulConfig } from './kernels/batch-mat-mul.ts';
import { conv2DBackpropFilterConfig } from './kernels/conv2d-backprop-filter.ts';
import { conv2DBackpropInputConfig } from './kernels/conv2d-backprop-input.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './kernels/depthwise-conv2d-backprop-filter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './kernels/depthwise-conv2d-backprop-input.ts';
import { maxPoolGradConfig } from './kernels/max-pool-grad.ts';
import { tileConfig } from './kernels/tile.ts';
import { unsortedSegmentSumConfig } from './kernels/unsorted-segment-sum.ts';
import { addConfig } from './kernels/add.ts';
import { sumConfig } from './kernels/sum.ts';
import { reluGradBiasSumConfig } from './kernels/relu-grad-bias-sum.ts';
import { signedStepConfig } from './kernels/signed-step.ts';
import { conv2DConfig, singleChannelConvConfig } from './kernels/single-channel-conv.ts';
import { identityConfig } from './kernels/identity.ts';
import { fusedMatMulConfig } from './kernels/fused-mat-mul.ts';

/**
 * Every kernel this module registers for the 'wasm' backend: the four training kernels tfjs-backend-wasm
 * 4.22 lacks, then replacements for stock kernels that are slow (Conv2DBackpropInput, BatchMatMul with
 * transposes and small products, _FusedMatMul of small products, Tile, Conv2D of a one-channel input, Identity (a
 * copy in tfjs-backend-wasm: shared here), and — as wasm SIMD on the heap — Sum over leading axes and Add of a bias vector: the
 * training step's bias gradient and unfused bias add) or wrong (MaxPoolGrad), then this module's own
 * FedtuneReluGradBiasSum (the backward of conv-bias-relu.ts), FedtuneSignedStep (an L∞ attack's step with an
 * exact sign: signed-step-kernels.ts) and FedtuneSingleChannelConv (conv-bias-relu.ts's forward for a one-channel
 * input: single-channel-conv-kernels.ts).
 */
export const wasmTrainingKernelConfigs: tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
  conv2DBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  tileConfig,
  sumConfig,
  addConfig,
  reluGradBiasSumConfig,
  signedStepConfig,
  singleChannelConvConfig,
  conv2DConfig,
  identityConfig,
  fusedMatMulConfig,
];
