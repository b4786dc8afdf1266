import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationsPerExample, architectures, SitePolicy } from '@fedtune/shared';
import { recurrentStates } from '../../shared/src/model/activations-per-example.ts';
import { selectNodeBackend } from '@fedtune/shared/node';

// The count the site's model.maxActivationsPerExample judges (shared/src/model/activations-per-example.ts).
beforeAll(async () => {
  await selectNodeBackend();
});

const options = (name: string) => (name === 'text-cnn' ? { inputShape: [24], numClasses: 2, seed: 3, vocabularySize: 500 } : { inputShape: name === 'mlp' ? [784] : [28, 28, 1], numClasses: 10, seed: 3 });

const BUILT_IN: Array<[string, number]> = [
  // Dense 128 + Dense 10.
  ['mlp', 128 + 10],
  // conv 3×3×8 on 28×28 → 26×26×8, pool → 13×13×8, conv 3×3×16 → 11×11×16, pool → 5×5×16, flatten 400, Dense 10.
  ['cnn', 26 * 26 * 8 + 13 * 13 * 8 + 11 * 11 * 16 + 5 * 5 * 16 + 400 + 10],
  ['cnn-dense', 9634],
  ['cnn-wide', 19130],
  ['cnn-bn', 24194],
  ['text-cnn', 2242],
];

describe('activationsPerExample', () => {
  it.each(BUILT_IN)('built-in %s: %i values per example, far within the default limit', (name, expected) => {
    const model = architectures[name].build(options(name));
    try {
      expect(activationsPerExample(model)).toBe(expected);
      expect(expected * 10).toBeLessThan(SitePolicy.parse({}).model.maxActivationsPerExample);
    } finally {
      model.dispose();
    }
  });

  it('every built-in architecture is in the table above', () => {
    expect(Object.keys(architectures).sort()).toEqual(BUILT_IN.map(([name]) => name).sort());
  });

  it('a functional model: its input layer is data, not counted; a layer with three outputs counts all three (and, recurrent, its states at every step)', () => {
    const input = tf.input({ shape: [5, 3] });
    const [sequence, h, c] = tf.layers.lstm({ units: 4, returnSequences: true, returnState: true }).apply(input) as tf.SymbolicTensor[];
    const model = tf.model({ inputs: input, outputs: [sequence, h, c] });
    try {
      // Its three outputs, and its two states at each of the 5 steps.
      expect(activationsPerExample(model)).toBe(5 * 4 + 4 + 4 + 5 * 2 * 4);
    } finally {
      model.dispose();
    }
  });

  it('a model nested as a layer counts its own layers', () => {
    const inner = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 50 }), tf.layers.dense({ units: 7 })] });
    const outer = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 6 }), inner, tf.layers.dense({ units: 2 })] });
    try {
      expect(activationsPerExample(outer)).toBe(6 + 50 + 7 + 2);
    } finally {
      outer.dispose();
    }
  });

  // A recurrent layer's states at every time step (kept for training) count too: steps × states × one step's output.
  it.each([
    ['LSTM (h and c)', () => tf.layers.lstm({ units: 32 }), 32 + 100 * 2 * 32],
    // (the Dense after it then outputs 100 × 3)
    ['LSTM returning sequences', () => tf.layers.lstm({ units: 32, returnSequences: true }), 100 * 32 + 100 * 2 * 32 + 100 * 3 - 3],
    ['GRU (one state)', () => tf.layers.gru({ units: 32 }), 32 + 100 * 32],
    ['SimpleRNN', () => tf.layers.simpleRNN({ units: 32 }), 32 + 100 * 32],
    ['Bidirectional LSTM (concatenated)', () => tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 32 }) as never }), 64 + 100 * 2 * 64],
  ] as const)('%s over 100 time steps', (_n, recurrent, values) => {
    const model = tf.sequential({ layers: [tf.layers.repeatVector({ inputShape: [4], n: 100 }), recurrent(), tf.layers.dense({ units: 3 })] });
    try {
      expect(activationsPerExample(model)).toBe(100 * 4 + values + 3);
    } finally {
      model.dispose();
    }
  });

  it('a layer output with a dimension of no fixed size: unbounded (Infinity)', () => {
    const model = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [null, 3], units: 4, returnSequences: true }), tf.layers.dense({ units: 2 })] });
    try {
      expect(activationsPerExample(model)).toBe(Number.POSITIVE_INFINITY);
    } finally {
      model.dispose();
    }
  });

  it.each([
    ['a fraction', [null, 1.5], Number.POSITIVE_INFINITY],
    ['a negative size', [null, -2, 4], Number.POSITIVE_INFINITY],
    ['a string', [null, '8'], Number.POSITIVE_INFINITY],
    ['an empty dimension (0 values)', [null, 0, 5], 0],
    ['sizes only', [null, 3, 5], 15],
  ] as const)('an output shape with %s (as a topology could state it): %s', (_n, shape, expected) => {
    // The count reads each layer's outputShape: a stand-in layer states the shape directly.
    const model = { layers: [{ getClassName: () => 'Dense', outputShape: shape }] } as unknown as tf.LayersModel;
    expect(activationsPerExample(model)).toBe(expected);
  });

  it('the policy field: default 2^18, a positive integer', () => {
    expect(SitePolicy.parse({}).model.maxActivationsPerExample).toBe(262_144);
    expect(SitePolicy.parse({ model: { maxActivationsPerExample: 5 } }).model.maxActivationsPerExample).toBe(5);
    for (const bad of [0, -1, 1.5, '5']) expect(() => SitePolicy.parse({ model: { maxActivationsPerExample: bad } }), String(bad)).toThrow();
  });
});

/**
 * recurrentStates on stand-in layers: the guards a real tfjs layer never reaches (a layer not yet called, a
 * sequence of 0 or a fractional number of steps, a wrapper with one direction only, directions with different
 * cells) — each a shape a hostile topology could try to state.
 */
describe('recurrentStates: what a layer shaped by a hostile topology counts', () => {
  type Fake = { cell?: { stateSize: number | number[] }; returnSequences?: boolean; forwardLayer?: Fake; backwardLayer?: Fake; outputShape?: unknown; inboundNodes?: unknown };
  const states = (layer: Fake) => recurrentStates(layer as unknown as tf.layers.Layer);
  const lstmCell = { stateSize: [8, 8] };
  const gruCell = { stateSize: 8 };
  const calledOn = (steps: number | null) => [{ inputShapes: [null, steps, 3] }];

  it('not recurrent (no cell): 0, whatever its inputs', () => {
    expect(states({ outputShape: [null, 8], inboundNodes: calledOn(10) })).toBe(0);
    // A wrapper with one direction only is not a Bidirectional: it counts as the layer itself (here no cell).
    expect(states({ forwardLayer: { cell: lstmCell }, outputShape: [null, 8], inboundNodes: calledOn(10) })).toBe(0);
    expect(states({ backwardLayer: { cell: lstmCell }, outputShape: [null, 8], inboundNodes: calledOn(10) })).toBe(0);
  });

  it('steps × states × one step’s output, at 1 step and at 10', () => {
    expect(states({ cell: lstmCell, outputShape: [null, 8], inboundNodes: calledOn(1) })).toBe(1 * 2 * 8);
    expect(states({ cell: lstmCell, outputShape: [null, 8], inboundNodes: calledOn(10) })).toBe(10 * 2 * 8);
    expect(states({ cell: gruCell, outputShape: [null, 8], inboundNodes: calledOn(10) })).toBe(10 * 1 * 8);
    // Returning sequences: its output holds every step, one step's is a tenth of it.
    expect(states({ cell: gruCell, returnSequences: true, outputShape: [null, 10, 8], inboundNodes: calledOn(10) })).toBe(10 * 1 * 8);
    // Called with initial states too: the sequence is its first input.
    expect(states({ cell: lstmCell, outputShape: [null, 8], inboundNodes: [{ inputShapes: [[null, 7, 3], [null, 8], [null, 8]] }] })).toBe(7 * 2 * 8);
  });

  it.each([
    ['0 steps', calledOn(0)],
    ['a fractional number of steps', calledOn(2.5)],
    ['no fixed number of steps', calledOn(null)],
    ['never called (no inbound node)', []],
    ['no inbound nodes at all', undefined],
  ])('a sequence of %s: unbounded (Infinity)', (_name, inboundNodes) => {
    expect(states({ cell: gruCell, outputShape: [null, 8], inboundNodes })).toBe(Number.POSITIVE_INFINITY);
  });

  it('both directions of a Bidirectional: the larger number of states of the two cells', () => {
    const forwardLayer = { cell: lstmCell };
    const backwardLayer = { cell: gruCell };
    expect(states({ forwardLayer, backwardLayer, outputShape: [null, 16], inboundNodes: calledOn(10) })).toBe(10 * 2 * 16);
    expect(states({ forwardLayer: backwardLayer, backwardLayer: forwardLayer, outputShape: [null, 16], inboundNodes: calledOn(10) })).toBe(10 * 2 * 16);
  });
});
