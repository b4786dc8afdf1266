import type * as tf from '@tensorflow/tfjs';

type Shape = Array<number | null>;

/** A layer's output shapes: one, or several for a layer with more than one output. */
function outputShapes(layer: tf.layers.Layer): Shape[] {
  const shape = layer.outputShape as Shape | Shape[];
  return Array.isArray(shape[0]) ? (shape as Shape[]) : [shape as Shape];
}

/** Values in one example of `shape` (its batch dimension left out); Infinity when a dimension has no fixed size. */
function valuesPerExample(shape: Shape): number {
  let n = 1;
  for (const d of shape.slice(1)) {
    // Number.isInteger is false for null and for anything not a number.
    if (!Number.isInteger(d) || (d as number) < 0) return Number.POSITIVE_INFINITY;
    n *= d as number;
  }
  return n;
}

/**
 * Values every layer of `model` outputs for ONE example (its activations, summed over the layers; a nested
 * model counts its own layers), from the shapes the model was built with: what one example costs in memory in
 * a forward pass, and about as much again in training. Infinity when a layer's output has a dimension of no
 * fixed size (its cost cannot be bounded before the data arrives). Used by the site to refuse a topology whose
 * few weights would make gigabytes of activations (an UpSampling2D of size 1000: docs/site-policy.md).
 */
export function activationsPerExample(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    // A functional model lists its inputs as layers: they hold the data, not activations (a Sequential does not list them).
    if (layer.getClassName() === 'InputLayer') continue;
    const inner = (layer as unknown as { layers?: unknown }).layers;
    total += Array.isArray(inner) ? activationsPerExample(layer as unknown as tf.LayersModel) : outputShapes(layer).reduce((sum, s) => sum + valuesPerExample(s), 0);
  }
  return total;
}
