import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTrailingVector } from '../../shared/src/wasm-kernels/kernels/add.ts';
import { leadingAxes } from '../../shared/src/wasm-kernels/kernels/sum.ts';
import { onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

describe('Sum on wasm (SIMD over leading axes, stock otherwise)', () => {
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims?: boolean; dtype?: 'int32' }> = [
    { shape: [32, 26, 26, 8], axis: [0, 1, 2] }, // conv1 bias gradient (the SIMD path)
    { shape: [32, 11, 11, 16], axis: [2, 0, 1] }, // any order of the leading axes
    { shape: [7, 12], axis: 0 },
    { shape: [7, 12], axis: -2, keepDims: true },
    { shape: [3, 5, 4], axis: [0, 1], keepDims: true },
    { shape: [5, 6], axis: 0 }, // 6 columns: not a multiple of 4 → stock
    { shape: [5, 8], axis: 1 }, // trailing axis → stock
    { shape: [4, 5, 8], axis: [0, 2] }, // not a prefix → stock
    { shape: [4, 8], axis: [0, 1] }, // all axes → stock
    { shape: [6, 8], axis: 0, dtype: 'int32' }, // int32 → stock
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.shape)} over ${JSON.stringify(c.axis)}${c.keepDims ? ' keepDims' : ''}${c.dtype ? ` ${c.dtype}` : ''} matches the cpu backend`, async () => {
      const values = Float32Array.from(seeded(size(c.shape), 3), (v) => (c.dtype ? Math.round(v * 100) : v));
      const { cpu, wasm } = await onCpuAndWasm(() => tf.sum(tf.tensor(values, c.shape, c.dtype ?? 'float32'), c.axis, c.keepDims ?? false));
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
      const expected = tf.tidy(() => tf.sum(tf.tensor(values, c.shape, c.dtype ?? 'float32'), c.axis, c.keepDims ?? false).shape);
      expect(expected.length).toBe(c.keepDims ? c.shape.length : c.shape.length - (Array.isArray(c.axis) ? c.axis.length : 1));
    });
  }

  it('leadingAxes accepts exactly a proper prefix of the axes', () => {
    expect(leadingAxes([0, 1, 2], 4)).toBe(3);
    expect(leadingAxes([2, 1, 0, 1], 4)).toBe(3);
    expect(leadingAxes(-4, 4)).toBe(1);
    expect(leadingAxes([0, 2], 4)).toBe(0);
    expect(leadingAxes([1], 4)).toBe(0);
    expect(leadingAxes([0, 1, 2, 3], 4)).toBe(0);
    expect(leadingAxes([], 4)).toBe(0);
  });

  it('is the bias gradient of a conv layer through tf.grad, and leaks nothing', async () => {
    const start = tf.memory().numTensors;
    const { cpu, wasm } = await onCpuAndWasm(() => {
      const x = tf.tensor4d(seeded(2 * 6 * 6 * 8, 5), [2, 6, 6, 8]);
      const bias = tf.tensor1d(seeded(8, 6));
      return tf.grad((b: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.add(x, b)))))(bias);
    });
    expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('Add on wasm (SIMD for a trailing bias vector, stock otherwise)', () => {
  const cases: Array<{ a: number[]; b: number[] }> = [
    { a: [32, 26, 26, 8], b: [8] }, // conv1 bias add (the SIMD path)
    { a: [8], b: [3, 5, 8] }, // the vector first
    { a: [3, 5, 8], b: [1, 1, 8] },
    { a: [3, 12], b: [12] },
    { a: [3, 6], b: [6] }, // 6: not a multiple of 4 → stock
    { a: [3, 8], b: [3, 8] }, // equal shapes → stock (XNNPACK)
    { a: [3, 8], b: [3, 1] }, // broadcast along another axis → stock
    { a: [1, 8], b: [8] }, // no larger operand → stock
    { a: [4, 8], b: [] }, // scalar → stock
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.a)} + ${JSON.stringify(c.b)} equals the cpu backend exactly`, async () => {
      const { cpu, wasm } = await onCpuAndWasm(() => tf.add(tf.tensor(seeded(size(c.a), 1), c.a), tf.tensor(seeded(size(c.b), 2), c.b)));
      expect(Array.from(wasm[0]!)).toEqual(Array.from(cpu[0]!));
    });
  }

  it('int32 operands keep their dtype (stock kernel)', () => {
    const y = tf.add(tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'int32'), tf.tensor1d([10, 20, 30, 40], 'int32'));
    expect(y.dtype).toBe('int32');
    expect(Array.from(y.dataSync())).toEqual([11, 22, 33, 44, 15, 26, 37, 48]);
    y.dispose();
  });

  it('isTrailingVector', () => {
    expect(isTrailingVector([2, 3, 8], [8])).toBe(true);
    expect(isTrailingVector([2, 3, 8], [1, 1, 8])).toBe(true);
    expect(isTrailingVector([2, 3, 8], [3, 8])).toBe(false);
    expect(isTrailingVector([1, 8], [8])).toBe(false);
    expect(isTrailingVector([2, 8], [])).toBe(false);
    expect(isTrailingVector([8], [2, 8])).toBe(false);
  });
});
