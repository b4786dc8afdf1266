import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, onCpuAndWasm, seeded, setUpWasm, size } from './helpers.ts';

type Shape4 = [number, number, number, number];

// tfjs-backend-wasm's own kernel, captured before registerWasmTrainingKernels replaces it.
let stockMaxPoolGrad: tf.KernelConfig;

beforeAll(async () => {
  stockMaxPoolGrad = tf.getKernel(tf.MaxPoolGrad, 'wasm')!;
  await setUpWasm();
});

describe('MaxPoolGrad on wasm', () => {
  it('routes the gradient of a window whose maximum is negative (the stock wasm kernel drops it)', async () => {
    // One 2x2 window, all values negative: the maximum is -1 at position [0, 1].
    const x = tf.tensor4d([-3, -1, -2, -4], [1, 2, 2, 1]);
    const dyValue = 5;
    const grad = tf.grad((a: tf.Tensor) => tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), dyValue).sum())(x);
    expect(Array.from(grad.dataSync())).toEqual([0, dyValue, 0, 0]);

    // The defect being worked around: tfjs-backend-wasm 4.22 starts its running maximum at the smallest
    // positive float, so no element of this window ever beats it and the gradient lands on the window's
    // first element instead of its maximum.
    const y = tf.maxPool(x, 2, 2, 'valid');
    const stockOut = stockMaxPoolGrad.kernelFunc({
      inputs: { dy: tf.fill(y.shape, dyValue), input: x, output: y },
      attrs: { filterSize: 2, strides: 2, pad: 'valid' },
      backend: tf.backend(),
    }) as tf.TensorInfo;
    expect(Array.from(tf.backend().readSync(stockOut.dataId) as Float32Array)).not.toEqual([0, dyValue, 0, 0]);
    tf.backend().disposeData(stockOut.dataId);
  });

  it('gives a tied window (all zeros after ReLU) to its first element, as the cpu backend does', async () => {
    const result = await onCpuAndWasm(() =>
      tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').sum())(tf.tensor4d([0, 0, 0, 0, 0, 0, 2, 1], [1, 2, 4, 1])),
    );
    expect(Array.from(result.wasm[0]!)).toEqual([1, 0, 0, 0, 0, 0, 1, 0]);
    expectClose(result, 0);
  });

  const grid: Array<{ shape: Shape4; filter: number; stride: number; pad: 'same' | 'valid' | number }> = [];
  for (const shape of [[1, 7, 7, 3], [2, 8, 5, 2], [2, 9, 9, 1]] as Shape4[])
    for (const filter of [2, 3])
      for (const stride of [1, 2, 3])
        for (const pad of ['same', 'valid', 1] as Array<'same' | 'valid' | number>) grid.push({ shape, filter, stride, pad });

  const valuesFor = (shape: Shape4): Float32Array => seeded(size(shape), 31).map((v, i) => (i % 7 === 0 ? 0 : v - 0.3)); // mostly negative, some ties

  it(`matches the cpu backend's gradient over ${grid.length} shapes, windows, strides and paddings (negative values, ties)`, async () => {
    for (const c of grid) {
      const xs = valuesFor(c.shape);
      const result = await onCpuAndWasm(() =>
        tf.grad((a: tf.Tensor) => {
          const y = tf.maxPool(a as tf.Tensor4D, c.filter, c.stride, c.pad, typeof c.pad === 'number' ? 'floor' : undefined);
          return tf.sum(tf.mul(y, tf.reshape(tf.range(1, y.size + 1), y.shape)));
        })(tf.tensor4d(xs, c.shape)),
      );
      expectClose(result, 1e-5, JSON.stringify(c));
    }
  });

  // tfjs-backend-wasm 4.22's forward MaxPool corrupts the wasm heap ("memory access out of bounds") for some
  // non-square windows with padding, so these call the MaxPoolGrad kernel directly (it reads only dy and x).
  for (const [filter, stride, pad] of [
    [[3, 2], 1, 'same'],
    [[2, 3], 2, 'same'],
    [[3, 2], [2, 1], 'valid'],
    [[3, 2], 2, 1],
  ] as Array<[[number, number], number | [number, number], 'same' | 'valid' | number]>) {
    it(`kernel matches the cpu backend for window ${filter}, stride ${stride}, pad ${pad}`, async () => {
      const shape: Shape4 = [2, 8, 7, 3];
      const xs = valuesFor(shape);
      await tf.setBackend('cpu');
      const outShape = tf.maxPool(tf.zeros(shape) as tf.Tensor4D, filter, stride, pad, typeof pad === 'number' ? 'floor' : undefined).shape;
      const dys = seeded(size(outShape), 32);
      const attrs = { filterSize: filter, strides: stride, pad, dimRoundingMode: typeof pad === 'number' ? 'floor' : undefined };
      const result = await onCpuAndWasm(() => {
        const x = tf.tensor4d(xs, shape);
        const dy = tf.tensor(dys, outShape);
        return tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: tf.zerosLike(dy) }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      });
      expectClose(result, 1e-6, JSON.stringify(attrs));
      expect(result.wasm[0]!.some((v) => v !== 0)).toBe(true);
    });
  }
});
