import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tidyValues } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

beforeAll(async () => {
  await selectNodeBackend();
});

describe('tidyValues', () => {
  it('reads the values of the tensor the function makes, of its dtype, and leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([1, -2, 3, -4, 5, -6], [2, 3]);
    const floats = tidyValues(() => tf.mul(tf.relu(x), 2));
    const ints = tidyValues(() => tf.argMax(x, 1));
    const bools = tidyValues(() => tf.greater(x, 0));
    expect(Array.from(floats)).toEqual([2, 0, 6, 0, 10, 0]);
    expect(floats).toBeInstanceOf(Float32Array);
    expect(Array.from(ints)).toEqual([2, 1]);
    expect(ints).toBeInstanceOf(Int32Array);
    expect(Array.from(bools)).toEqual([1, 0, 1, 0, 1, 0]);
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a throwing function leaks nothing and the error comes through', () => {
    const before = tf.memory().numTensors;
    expect(() =>
      tidyValues(() => {
        tf.ones([3]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
  });
});
