import type * as tf from '@tensorflow/tfjs';

/**
 * Multiply-accumulates of one example's forward pass, from the layers' shapes: Dense in × units, Conv2D
 * out-H × out-W × kH × kW × in-channels × filters (depthwise: without × filters), other layers 0. An
 * estimate of compute, not a profile: deterministic, so the same model always trains the same way.
 */
export function forwardMacsPerExample(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const name = layer.getClassName();
    const out = layer.outputShape as (number | null)[];
    let inShape: (number | null)[] | undefined;
    try {
      const input = layer.input;
      inShape = Array.isArray(input) ? undefined : input.shape;
    } catch {
      inShape = undefined; // a layer with several inbound nodes: not estimated
    }
    const config = layer.getConfig() as { units?: number; filters?: number; kernelSize?: number | number[] };
    if (name === 'Dense' && inShape && config.units) {
      macs += Number(inShape[inShape.length - 1] ?? 0) * config.units;
    } else if ((name === 'Conv2D' || name === 'DepthwiseConv2D') && inShape && out) {
      const k = Array.isArray(config.kernelSize) ? config.kernelSize : [config.kernelSize ?? 1, config.kernelSize ?? 1];
      const cin = Number(inShape[inShape.length - 1] ?? 0);
      const spatial = Number(out[1] ?? 0) * Number(out[2] ?? 0);
      macs += name === 'Conv2D' ? spatial * k[0] * k[1] * cin * (config.filters ?? 0) : spatial * k[0] * k[1] * cin;
    }
  }
  return macs;
}

/**
 * Below this many forward multiply-accumulates per shard, splitting a batch over threads (`--sync-every 1`)
 * loses time: tfjs's fixed cost per step (~5 ms here) dominates, so a half batch costs most of a whole one.
 * Measured on 2 idle cores (bench/workers.ts): the built-in MLP (~0.1 M MACs per example, 1.6 M per shard of
 * 16) ran 0.66× and the CNN (~0.19 M, 3 M per shard) 0.94× of one thread.
 */
export const MIN_SHARD_MACS = 25e6;
