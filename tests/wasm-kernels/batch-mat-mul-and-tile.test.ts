import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, onCpuAndWasm, seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

describe('BatchMatMul on wasm (transposes done explicitly)', () => {
  const shapes: Array<[number[], number[]]> = [
    [[5, 7], [7, 3]],
    [[1, 7], [7, 1]],
    [[4, 5, 7], [4, 7, 3]],
    [[1, 5, 7], [3, 7, 2]],
    [[2, 3, 5, 7], [2, 3, 7, 4]],
  ];
  for (const [aShape, bShape] of shapes)
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`${JSON.stringify(aShape)}${ta ? 'ᵀ' : ''} × ${JSON.stringify(bShape)}${tb ? 'ᵀ' : ''} matches the cpu backend`, async () => {
        const swap = (s: number[]): number[] => [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
        const as = ta ? swap(aShape) : aShape;
        const bs = tb ? swap(bShape) : bShape;
        const av = seeded(size(as), 51);
        const bv = seeded(size(bs), 52);
        const result = await onCpuAndWasm(() => tf.matMul(tf.tensor(av, as), tf.tensor(bv, bs), ta, tb));
        expectClose(result, 1e-5);
      });
    }

  it('gives the same Dense-layer gradients as the cpu backend', async () => {
    const xv = seeded(6 * 9, 53);
    const wv = seeded(9 * 4, 54);
    const result = await onCpuAndWasm(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.sigmoid(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D))))([
        tf.tensor2d(xv, [6, 9]),
        tf.tensor2d(wv, [9, 4]),
      ]),
    );
    expectClose(result, 1e-5);
  });
});

describe('Tile on wasm', () => {
  const cases: Array<[number[], number[]]> = [
    [[3], [4]],
    [[1, 16], [37, 1]],
    [[2, 3], [2, 3]],
    [[2, 1, 3], [1, 4, 2]],
    [[2, 3, 1, 2], [2, 1, 3, 2]],
    [[2, 2], [0, 3]],
  ];
  for (const [shape, reps] of cases)
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      it(`${dtype} ${JSON.stringify(shape)} by ${JSON.stringify(reps)} matches the cpu backend`, async () => {
        const values = Array.from(seeded(size(shape), 61), (v) => (dtype === 'bool' ? Number(v > 0) : dtype === 'int32' ? Math.round(v * 100) : v));
        const result = await onCpuAndWasm(() => tf.cast(tf.tile(tf.tensor(values, shape, dtype), reps), 'float32'));
        expect(result.wasm[0]!.length).toBe(size(shape.map((d, i) => d * reps[i]!)));
        expectClose(result, 0);
      });
    }
});
