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

type RecurrentParts = { cell?: { stateSize: number | number[] }; returnSequences?: boolean; forwardLayer?: RecurrentParts; backwardLayer?: RecurrentParts };

/**
 * The states a recurrent layer (LSTM, GRU, SimpleRNN, ConvLSTM2D; both directions of a Bidirectional) makes
 * at every time step of its input, kept for training: time steps × its states (LSTM: h and c) × the values of
 * one step's output. Its output shows only the last step's (unless it returns sequences): a RepeatVector of
 * 65,000 steps into an LSTM of 32 units counted 260,000 values (within the default limit) and made gigabytes of states.
 */
export function recurrentStates(layer: tf.layers.Layer): number {
  const parts = layer as unknown as RecurrentParts;
  const directions = parts.forwardLayer && parts.backwardLayer ? [parts.forwardLayer, parts.backwardLayer] : [parts];
  const cells = directions.flatMap((d) => (d.cell ? [d] : []));
  if (cells.length === 0) return 0;
  // The shape it was called on (its first input: a sequence; initial states may follow).
  const input = (layer as unknown as { inboundNodes?: Array<{ inputShapes: Shape | Shape[] }> }).inboundNodes?.[0]?.inputShapes;
  const steps = input === undefined ? undefined : (Array.isArray(input[0]) ? (input[0] as Shape) : (input as Shape))[1];
  if (!Number.isInteger(steps) || (steps as number) < 1) return Number.POSITIVE_INFINITY;
  const returnsSequences = directions[0].returnSequences === true;
  // One step's output values over all directions (a Bidirectional's concatenation holds both).
  const perStep = valuesPerExample(outputShapes(layer)[0]) / (returnsSequences ? (steps as number) : 1);
  const states = Math.max(...cells.map((d) => (Array.isArray(d.cell!.stateSize) ? d.cell!.stateSize.length : 1)));
  return (steps as number) * perStep * states;
}

/**
 * Values every layer of `model` outputs for ONE example (its activations, summed over the layers; a nested
 * model counts its own layers), from the shapes the model was built with: what one example costs in memory in
 * a forward pass, and about as much again in training. Infinity when a layer's output has a dimension of no
 * fixed size (its cost cannot be bounded before the data arrives). A recurrent layer adds the states it makes at
 * every time step (recurrentStates). Used by the site to refuse a topology whose
 * few weights would make gigabytes of activations (an UpSampling2D of size 1000: docs/site-policy.md).
 */
export function activationsPerExample(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    // A functional model lists its inputs as layers: they hold the data, not activations (a Sequential does not list them).
    if (layer.getClassName() === 'InputLayer') continue;
    const inner = (layer as unknown as { layers?: unknown }).layers;
    total += Array.isArray(inner) ? activationsPerExample(layer as unknown as tf.LayersModel) : outputShapes(layer).reduce((sum, s) => sum + valuesPerExample(s), 0) + recurrentStates(layer);
  }
  return total;
}
