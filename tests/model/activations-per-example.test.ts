import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationsPerExample, architectures, SitePolicy } from '@fedtune/shared';
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
