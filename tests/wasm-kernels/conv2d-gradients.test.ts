import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  fh: number;
  fw: number;
  stride: number | [number, number];
  pad: Pad;
}

const grid: Case[] = [];
for (const [h, w] of [[7, 7], [8, 5]] as const)
  for (const stride of [1, 2, [2, 1]] as Array<number | [number, number]>)
    for (const pad of ['same', 'valid', [[0, 0], [1, 2], [0, 1], [0, 0]]] as Pad[])
      for (const batch of [1, 3])
        for (const [fh, fw] of [[3, 3], [1, 1], [2, 3]] as const) grid.push({ batch, h, w, inC: 3, outC: 4, fh, fw, stride, pad });

const name = (c: Case): string => `n${c.batch} ${c.h}x${c.w}x${c.inC} f${c.fh}x${c.fw}x${c.outC} s${c.stride} ${JSON.stringify(c.pad)}`;

beforeAll(setUpWasm);

describe('Conv2D gradients on wasm (Conv2DBackpropFilter, Conv2DBackpropInput) match the cpu backend', () => {
  it(`over ${grid.length} shapes, strides and paddings`, async () => {
    for (const c of grid) {
      const xShape = [c.batch, c.h, c.w, c.inC];
      const wShape = [c.fh, c.fw, c.inC, c.outC];
      const xs = seeded(size(xShape), 1);
      const ws = seeded(size(wShape), 2);
      const result = await onCpuAndWasm(() => {
        const x = tf.tensor4d(xs, xShape as [number, number, number, number]);
        const w = tf.tensor4d(ws, wShape as [number, number, number, number]);
        // A non-uniform upstream gradient: d/dy of sum(y²·k) is 2·y·k.
        const loss = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar => {
          const y = tf.conv2d(a, b, c.stride, c.pad);
          return tf.sum(tf.mul(tf.square(y), tf.reshape(tf.range(1, y.shape[3]! + 1), [1, 1, 1, -1])));
        };
        return tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([x, w]);
      });
      expectClose(result, 1e-4, name(c));
      expect(result.wasm[1]!.some((v) => v !== 0), name(c)).toBe(true);
    }
  });

  it('handles NCHW data format by calling the kernels directly', async () => {
    const xShape: [number, number, number, number] = [2, 3, 7, 6]; // NCHW
    const dyShape: [number, number, number, number] = [2, 4, 4, 3]; // stride 2, same
    const filterShape: [number, number, number, number] = [3, 3, 3, 4];
    const xs = seeded(size(xShape), 3);
    const dys = seeded(size(dyShape), 4);
    const ws = seeded(size(filterShape), 5);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW' } as const;
    const result = await onCpuAndWasm(() => [
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor4d(xs, xShape), dy: tf.tensor4d(dys, dyShape) }, { ...attrs, filterShape }) as tf.Tensor,
      tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor4d(dys, dyShape), filter: tf.tensor4d(ws, filterShape) }, { ...attrs, inputShape: xShape }) as tf.Tensor,
    ]);
    expectClose(result, 1e-4, 'NCHW');
  });

  it('passes a finite-difference check of the filter and input gradients on wasm', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seeded(2 * 9 * 8 * 3, 6), [2, 9, 8, 3]);
    const w = tf.tensor4d(seeded(3 * 3 * 3 * 5, 7), [3, 3, 3, 5]);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar => tf.sum(tf.tanh(tf.conv2d(a, b, 2, 'same')));
    const [gx, gw] = tf.grads(f as (...args: tf.Tensor[]) => tf.Tensor)([x, w]);
    for (const [which, dir] of [
      ['x', seeded(x.size, 8)],
      ['w', seeded(w.size, 9)],
    ] as const) {
      const eps = 1e-2;
      const shift = (t: tf.Tensor4D, s: number): tf.Tensor4D => tf.add(t, tf.mul(tf.tensor(dir, t.shape), s));
      const plus = which === 'x' ? f(shift(x, eps), w) : f(x, shift(w, eps));
      const minus = which === 'x' ? f(shift(x, -eps), w) : f(x, shift(w, -eps));
      const numeric = (plus.dataSync()[0]! - minus.dataSync()[0]!) / (2 * eps);
      const analytic = tf.sum(tf.mul(which === 'x' ? gx! : gw!, tf.tensor(dir, (which === 'x' ? x : w).shape))).dataSync()[0]!;
      expect(relativeError([analytic], [numeric]), which).toBeLessThan(2e-3);
    }
  });
});
