import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SINGLE_CHANNEL_CONV } from '../../shared/src/wasm-kernels/kernels/single-channel-conv.ts';
import { reversedSwappedFilter } from '../../shared/src/wasm-kernels/kernels/conv2d-backprop-input.ts';
import { singleOutputConvModuleBytes, singleOutputConvSupported } from '../../shared/src/wasm-kernels/single-output-conv-kernels.ts';
import { onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number;

const numDataIds = (): number => tf.backend().numDataIds();

describe('Conv2DBackpropInput of a one-channel input: the one-output-channel convolution on the heap', () => {
  const cases: Array<[string, Shape4, Shape4, Pad]> = [
    ['the cnn-wide’s first layer (28×28, 16 filters, valid)', [4, 28, 28, 1], [3, 3, 1, 16], 'valid'],
    ['the cnn’s first layer (8 filters)', [3, 28, 28, 1], [3, 3, 1, 8], 'valid'],
    ['same padding, a 2×3 filter, a non-square image', [3, 9, 7, 1], [2, 3, 1, 4], 'same'],
    ['explicit padding 1, 32 filters', [2, 6, 5, 1], [3, 3, 1, 32], 1],
    ['a 5×5 filter, 12 filters', [2, 6, 6, 1], [5, 5, 1, 12], 'valid'],
    ['a 1×1 filter', [2, 4, 4, 1], [1, 1, 1, 4], 'valid'],
  ];
  for (const [name, x, w, pad] of cases) {
    it(`${name}: dx equal to the cpu backend's to 1e-5, with no convolution kernel inside, nothing left behind`, async () => {
      const ws = seeded(size(w), 21);
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(x) as tf.Tensor4D, tf.zeros(w) as tf.Tensor4D, 1, pad).shape);
      const dys = seeded(size(outShape), 22);
      const run = () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor(dys, outShape), filter: tf.tensor4d(ws, w) }, { strides: [1, 1], pad, dataFormat: 'NHWC', inputShape: x } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const result = await onCpuAndWasm(run);
      expect(relativeError(result.wasm[0]!, result.cpu[0]!)).toBeLessThanOrEqual(1e-5);
      expect(result.wasm[0]!.length).toBe(size(x));
      // The heap path runs no Conv2D (the XNNPACK formulation does) and frees its padded copy and filter.
      const profile = await tf.profile(() => tf.tidy(run));
      expect(profile.kernelNames).toEqual([tf.Conv2DBackpropInput]);
      const dy = tf.tensor(dys, outShape);
      const filter = tf.tensor4d(ws, w);
      const [tensors, ids] = [tf.memory().numTensors, numDataIds()];
      const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', inputShape: x } as unknown as tf.NamedAttrMap) as tf.Tensor;
      expect([tf.memory().numTensors, numDataIds()]).toEqual([tensors + 1, ids + 1]);
      tf.dispose([dx, dy, filter]);
    });
  }

  it.each([
    ['two input channels', [2, 8, 8, 2], [3, 3, 2, 4], 1],
    ['stride 2', [2, 9, 9, 1], [3, 3, 1, 4], 2],
    ['6 filters (not a multiple of 4)', [2, 8, 8, 1], [3, 3, 1, 6], 1],
  ] as Array<[string, Shape4, Shape4, number]>)('%s: the XNNPACK formulation, equal to the cpu backend', async (_name, x, w, stride) => {
    const ws = seeded(size(w), 23);
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros(x) as tf.Tensor4D, tf.zeros(w) as tf.Tensor4D, stride, 'same').shape);
    const dys = seeded(size(outShape), 24);
    const run = () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor(dys, outShape), filter: tf.tensor4d(ws, w) }, { strides: [stride, stride], pad: 'same', dataFormat: 'NHWC', inputShape: x } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const result = await onCpuAndWasm(run);
    expect(relativeError(result.wasm[0]!, result.cpu[0]!)).toBeLessThanOrEqual(1e-5);
    expect((await tf.profile(() => tf.tidy(run))).kernelNames).toContain(tf.Conv2D);
  });

  it('the reversed, channel-swapped filter: element (r, s, o, c) = w[fh − 1 − r, fw − 1 − s, c, o]', async () => {
    await tf.setBackend('wasm');
    const w = tf.tensor4d(seeded(2 * 3 * 4 * 5, 25), [2, 3, 4, 5]);
    const want = tf.tidy(() => tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]));
    const got = reversedSwappedFilter(tf.backend(), w);
    expect(got.shape).toEqual([2, 3, 5, 4]);
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([w, want, got]);
  });

  it('geometries: C a multiple of 4 up to 32, at most 25 taps, rows under 8 KB; the module validates', () => {
    expect(singleOutputConvSupported({ filterHeight: 3, filterWidth: 3, channels: 16, inWidth: 30 })).toBe(true);
    expect(singleOutputConvSupported({ filterHeight: 5, filterWidth: 5, channels: 32, inWidth: 60 })).toBe(true);
    expect(singleOutputConvSupported({ filterHeight: 3, filterWidth: 3, channels: 6, inWidth: 30 })).toBe(false);
    expect(singleOutputConvSupported({ filterHeight: 3, filterWidth: 3, channels: 36, inWidth: 30 })).toBe(false);
    expect(singleOutputConvSupported({ filterHeight: 6, filterWidth: 5, channels: 4, inWidth: 30 })).toBe(false);
    expect(singleOutputConvSupported({ filterHeight: 3, filterWidth: 3, channels: 32, inWidth: 64 })).toBe(false); // 8 KB rows
    expect(singleOutputConvSupported({ filterHeight: 3, filterWidth: 4, channels: 4, inWidth: 3 })).toBe(false);
    for (const c of [4, 8, 16, 32]) expect(WebAssembly.validate(singleOutputConvModuleBytes({ filterHeight: 3, filterWidth: 3, channels: c, inWidth: 30 })), `C ${c}`).toBe(true);
    expect(() => singleOutputConvModuleBytes({ filterHeight: 3, filterWidth: 3, channels: 6, inWidth: 30 })).toThrow(RangeError);
  });
});

describe('Conv2D of a one-channel input (valid, stride 1): FedtuneSingleChannelConv with a zero bias', () => {
  it('the cnn-wide’s first layer: equal to the cpu backend to 1e-6 and to this module’s kernel bit for bit', async () => {
    const x: Shape4 = [4, 28, 28, 1];
    const w: Shape4 = [3, 3, 1, 16];
    const xs = seeded(size(x), 31);
    const ws = seeded(size(w), 32);
    const result = await onCpuAndWasm(() => tf.conv2d(tf.tensor4d(xs, x), tf.tensor4d(ws, w), 1, 'valid'));
    expect(relativeError(result.wasm[0]!, result.cpu[0]!)).toBeLessThanOrEqual(1e-6);
    const ours = tf.engine().runKernel(SINGLE_CHANNEL_CONV, { x: tf.tensor4d(xs, x), filter: tf.tensor4d(ws, w), bias: tf.zeros([16]) }, { relu: false } as unknown as tf.NamedAttrMap) as tf.Tensor;
    expect(Array.from(result.wasm[0]!)).toEqual(Array.from(ours.dataSync()));
    tf.dispose(ours);
    const [tensors, ids] = [tf.memory().numTensors, numDataIds()];
    const [xt, wt] = [tf.tensor4d(xs, x), tf.tensor4d(ws, w)];
    const y = tf.conv2d(xt, wt, 1, 'valid');
    expect([tf.memory().numTensors, numDataIds()]).toEqual([tensors + 3, ids + 3]); // x, w, y: the zero bias is freed
    tf.dispose([xt, wt, y]);
  });

  it.each([
    ['same padding', [2, 7, 7, 1], [3, 3, 1, 8], 1, 'same'],
    ['stride 2', [2, 8, 8, 1], [3, 3, 1, 8], 2, 'valid'],
    ['6 filters', [2, 8, 8, 1], [3, 3, 1, 6], 1, 'valid'],
    ['two input channels', [2, 8, 8, 2], [3, 3, 2, 8], 1, 'valid'],
  ] as Array<[string, Shape4, Shape4, number, 'same' | 'valid']>)('%s: the stock kernel, equal to the cpu backend', async (_name, x, w, stride, pad) => {
    const xs = seeded(size(x), 33);
    const ws = seeded(size(w), 34);
    const result = await onCpuAndWasm(() => tf.conv2d(tf.tensor4d(xs, x), tf.tensor4d(ws, w), stride, pad));
    expect(relativeError(result.wasm[0]!, result.cpu[0]!)).toBeLessThanOrEqual(1e-5);
  });
});
