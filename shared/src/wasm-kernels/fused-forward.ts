import * as tf from '@tensorflow/tfjs';
import { convBiasRelu, fusedConvBiasReluAvailable } from './conv-bias-relu.ts';
import { denseForTraining } from './dense-for-training.ts';

/** The fields of a tfjs-layers Conv2D layer that the fused path reads. */
interface ConvLayerFields {
  rank?: number;
  strides?: number[];
  padding?: string;
  dataFormat?: string;
  dilationRate?: number | number[];
  useBias?: boolean;
  activation?: { getClassName(): string };
  activityRegularizer?: unknown;
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
}

/** The conv-bias-relu options of `layer` if it is a Conv2D that convBiasRelu can replace exactly, else undefined. */
export function fusableConv(layer: tf.layers.Layer): { strides: [number, number]; pad: 'same' | 'valid' } | undefined {
  if (layer.getClassName() !== 'Conv2D') return undefined;
  const l = layer as unknown as ConvLayerFields;
  const dilations = Array.isArray(l.dilationRate) ? l.dilationRate : [l.dilationRate ?? 1];
  const ok =
    l.rank === 2 &&
    l.strides?.length === 2 &&
    (l.padding === 'same' || l.padding === 'valid') &&
    l.dataFormat === 'channelsLast' &&
    dilations.every((d) => d === 1) &&
    l.useBias === true &&
    l.bias != null &&
    l.kernel != null &&
    l.activation?.getClassName() === 'relu' &&
    l.activityRegularizer == null;
  return ok ? { strides: [l.strides![0]!, l.strides![1]!], pad: l.padding as 'same' | 'valid' } : undefined;
}

/** The fields of a tfjs-layers Dense layer that the swapped path (and the Dense-stack step, dense-stack-step.ts) reads. */
export interface DenseLayerFields {
  units?: number;
  useBias?: boolean;
  activation?: { getClassName(): string };
  kernelRegularizer?: unknown;
  biasRegularizer?: unknown;
  activityRegularizer?: unknown;
  kernelConstraint?: unknown;
  biasConstraint?: unknown;
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
}

/**
 * Whether `layer` is a Dense layer (bias, ReLU or linear activation, no activity regularizer) with at least
 * twice as many units as `rows` (the batch), so that dense-for-training.ts's swapped product packs the smaller
 * operand. Returns its activation then.
 */
export function fusableDense(layer: tf.layers.Layer, rows: number): { relu: boolean } | undefined {
  if (layer.getClassName() !== 'Dense') return undefined;
  const l = layer as unknown as DenseLayerFields;
  const act = l.activation?.getClassName();
  const ok = (act === 'relu' || act === 'linear') && l.useBias === true && l.bias != null && l.kernel != null && l.activityRegularizer == null && (l.units ?? 0) >= 2 * rows;
  return ok ? { relu: act === 'relu' } : undefined;
}

/**
 * `model.apply(input, { training: true })` for a Sequential model, with every Conv2D + bias + ReLU layer run as
 * one fused op (conv-bias-relu.ts: one tape entry, one backward pass for ReLU and bias) when the backend is
 * wasm with this module's kernels. Other layers are applied as the model applies them; other models (and
 * other backends) use `model.apply` itself.
 */
export function applyForTraining(model: tf.LayersModel, input: tf.Tensor): tf.Tensor {
  const rows = input.shape[0] ?? 0;
  if (model.getClassName() !== 'Sequential' || !fusedConvBiasReluAvailable() || !model.layers.some((l) => fusableConv(l) || fusableDense(l, rows))) {
    return model.apply(input, { training: true }) as tf.Tensor;
  }
  let x = input;
  let trainedUpstream = false; // whether a trainable weight lies before x (then x needs a gradient)
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const fused = fusableConv(layer);
    const dense = fusableDense(layer, rows);
    if (fused && x.rank === 4) {
      const l = layer as unknown as Required<Pick<ConvLayerFields, 'kernel'>> & { bias: { read(): tf.Tensor } };
      x = convBiasRelu(x as tf.Tensor4D, l.kernel.read() as tf.Tensor4D, l.bias.read() as tf.Tensor1D, { ...fused, inputGradient: trainedUpstream });
    } else if (dense && x.rank === 2 && x.dtype === 'float32') {
      const l = layer as unknown as Required<Pick<DenseLayerFields, 'kernel'>> & { bias: { read(): tf.Tensor } };
      x = denseForTraining(x as tf.Tensor2D, l.kernel.read() as tf.Tensor2D, l.bias.read() as tf.Tensor1D, { ...dense, inputGradient: trainedUpstream });
    } else {
      x = layer.apply(x, { training: true }) as tf.Tensor;
    }
    trainedUpstream ||= layer.trainable && layer.trainableWeights.length > 0;
  }
  return x;
}
