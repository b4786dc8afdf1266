import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { dot, expectClose, onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

interface Case {
  batch: number;
  h: number;
  w: number;
  c: number;
  mult: number;
  f: number;
  stride: number;
  pad: Pad;
}

const grid: Case[] = [];
for (const [h, w] of [[7, 7], [6, 9]] as const)
  for (const stride of [1, 2])
    for (const pad of ['same', 'valid', [[0, 0], [2, 1], [1, 0], [0, 0]]] as Pad[])
      for (const batch of [1, 2])
        for (const mult of [1, 3])
          for (const f of [3, 2]) grid.push({ batch, h, w, c: 4, mult, f, stride, pad });

const name = (c: Case): string => `n${c.batch} ${c.h}x${c.w}x${c.c} f${c.f} m${c.mult} s${c.stride} ${JSON.stringify(c.pad)}`;

beforeAll(setUpWasm);

describe('DepthwiseConv2dNative gradients on wasm match the cpu backend', () => {
  it(`over ${grid.length} shapes, strides, paddings and channel multipliers`, async () => {
    for (const c of grid) {
      const xShape: Shape4 = [c.batch, c.h, c.w, c.c];
      const wShape: Shape4 = [c.f, c.f, c.c, c.mult];
      const xs = seeded(size(xShape), 11);
      const ws = seeded(size(wShape), 12);
      const result = await onCpuAndWasm(() => {
        const loss = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar => {
          const y = tf.depthwiseConv2d(a, b, c.stride, c.pad);
          return tf.sum(tf.mul(tf.square(y), tf.reshape(tf.range(1, y.shape[3]! + 1), [1, 1, 1, -1])));
        };
        return tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([tf.tensor4d(xs, xShape), tf.tensor4d(ws, wShape)]);
      });
      expectClose(result, 1e-4, name(c));
      expect(result.wasm[1]!.some((v) => v !== 0), name(c)).toBe(true);
    }
  });

  // tfjs's depthwise gradient refuses dilations > 1 and the cpu backprop kernels ignore them, so dilated
  // cases are checked by the adjoint identities of the (linear) forward conv, which the cpu backend computes:
  //   <dy, conv(x, w)> = <x, backpropInput(dy, w)> = <w, backpropFilter(x, dy)>.
  for (const [dilation, stride, pad, mult] of [
    [2, 1, 'same', 1],
    [2, 1, 'valid', 2],
    [[3, 2], 1, 'same', 2],
    [1, 2, 'same', 2],
    [1, 1, 'valid', 1],
  ] as Array<[number | [number, number], number, 'same' | 'valid', number]>) {
    it(`kernels satisfy the adjoint identities with dilation ${dilation}, stride ${stride}, ${pad}, multiplier ${mult}`, async () => {
      const xShape: Shape4 = [2, 9, 8, 3];
      const wShape: Shape4 = [3, 3, 3, mult];
      const xs = seeded(size(xShape), 21);
      const ws = seeded(size(wShape), 22);
      await tf.setBackend('cpu');
      const y = tf.depthwiseConv2d(tf.tensor4d(xs, xShape), tf.tensor4d(ws, wShape), stride, pad, 'NHWC', dilation);
      const ys = y.dataSync();
      const dyShape = y.shape as Shape4;
      y.dispose();
      const dys = seeded(size(dyShape), 23);
      await tf.setBackend('wasm');
      const attrs = { strides: stride, pad, dilations: dilation };
      const dx = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: tf.tensor4d(dys, dyShape), filter: tf.tensor4d(ws, wShape) }, { ...attrs, inputShape: xShape }) as tf.Tensor;
      const dw = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: tf.tensor4d(xs, xShape), dy: tf.tensor4d(dys, dyShape) }, { ...attrs, filterShape: wShape }) as tf.Tensor;
      expect(dx.shape).toEqual(xShape);
      expect(dw.shape).toEqual(wShape);
      const reference = dot(dys, ys);
      expect(relativeError([dot(xs, dx.dataSync())], [reference])).toBeLessThan(1e-4);
      expect(relativeError([dot(ws, dw.dataSync())], [reference])).toBeLessThan(1e-4);
      tf.dispose([dx, dw]);
    });
  }
});
