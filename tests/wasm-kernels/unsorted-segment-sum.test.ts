import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, onCpuAndWasm, seeded, setUpWasm } from './helpers.ts';

beforeAll(setUpWasm);

describe('UnsortedSegmentSum on wasm', () => {
  it('sums rows by segment id, including repeated ids, and matches the cpu backend', async () => {
    const ids = [3, 0, 3, 3, 1, 0, 4, 1];
    const xs = seeded(8 * 2 * 3, 41);
    const result = await onCpuAndWasm(() => tf.unsortedSegmentSum(tf.tensor3d(xs, [8, 2, 3]), tf.tensor1d(ids, 'int32'), 6));
    expectClose(result, 1e-6);
    const out = result.wasm[0]!;
    // segment 3 = rows 0, 2, 3; segment 2 and 5 are empty
    for (let j = 0; j < 6; j++) expect(out[3 * 6 + j]).toBeCloseTo(xs[j]! + xs[2 * 6 + j]! + xs[3 * 6 + j]!, 5);
    expect(Array.from(out.slice(2 * 6, 3 * 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(out.slice(5 * 6, 6 * 6))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('drops ids outside [0, numSegments) and sums int32 values exactly', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 10, 20, 100, 200, 1000, 2000], [4, 2], 'int32');
    const out = tf.unsortedSegmentSum(x, tf.tensor1d([1, -1, 1, 7], 'int32'), 3);
    expect(out.dtype).toBe('int32');
    expect(Array.from(out.dataSync())).toEqual([0, 0, 101, 202, 0, 0]);
  });

  it('makes the gradient of an embedding lookup (gather) match the cpu backend', async () => {
    const table = seeded(50 * 8, 42);
    const ids = Array.from({ length: 3 * 7 }, (_, i) => (i * 13) % 50);
    const result = await onCpuAndWasm(() =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor2d(ids, [3, 7], 'int32')))))(tf.tensor2d(table, [50, 8])),
    );
    expectClose(result, 1e-5);
  });
});
