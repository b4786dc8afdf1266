import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SINGLE_CHANNEL_CONV, singleChannelConvAvailable, singleChannelConvGeometry } from '../../shared/src/wasm-kernels/kernels/single-channel-conv.ts';
import { singleChannelConvModuleBytes, singleChannelConvSupported } from '../../shared/src/wasm-kernels/single-channel-conv-kernels.ts';
import { onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

type Shape4 = [number, number, number, number];

/** relu?(conv2d(x, w) + b), 'valid', stride 1: the reference on cpu, this module's kernel on wasm. */
async function compare(x: Shape4, w: Shape4, relu: boolean, scaleX = 1): Promise<{ error: number; wasm: Float32Array; cpu: Float32Array }> {
  const xs = seeded(size(x), 11).map((v) => v * scaleX);
  const ws = seeded(size(w), 12);
  const bs = seeded(w[3], 13);
  const result = await onCpuAndWasm(() => {
    const [xt, wt, bt] = [tf.tensor4d(xs, x), tf.tensor4d(ws, w), tf.tensor1d(bs)];
    if (tf.getBackend() === 'wasm') return tf.engine().runKernel(SINGLE_CHANNEL_CONV, { x: xt, filter: wt, bias: bt }, { relu } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const z = tf.add(tf.conv2d(xt, wt, 1, 'valid'), bt);
    return relu ? tf.relu(z) : z;
  });
  return { error: relativeError(result.wasm[0]!, result.cpu[0]!), wasm: result.wasm[0]!, cpu: result.cpu[0]! };
}

describe('FedtuneSingleChannelConv: relu?(conv2d(x, w) + b) for one input channel, on the wasm heap', () => {
  const cases: Array<[string, Shape4, Shape4]> = [
    ['the cnn’s first layer (3×3, 8 filters)', [4, 28, 28, 1], [3, 3, 1, 8]],
    ['the cnn-wide’s first layer (3×3, 16 filters)', [3, 28, 28, 1], [3, 3, 1, 16]],
    ['4 filters, 2×3 taps, a non-square image', [5, 9, 7, 1], [2, 3, 1, 4]],
    ['12 filters, 5×5 taps', [2, 6, 6, 1], [5, 5, 1, 12]],
    ['a 1×1 filter', [1, 3, 3, 1], [1, 1, 1, 4]],
    ['a filter as large as the image (one output position)', [2, 4, 5, 1], [4, 5, 1, 8]],
  ];
  for (const [name, x, w] of cases) {
    for (const relu of [true, false]) {
      it(`${name}, relu ${relu}: equal to the cpu backend's conv2d + bias${relu ? ' + relu' : ''} to 1e-6`, async () => {
        const { error, wasm, cpu } = await compare(x, w, relu);
        expect(error).toBeLessThanOrEqual(1e-6);
        expect(wasm.length).toBe(x[0] * (x[1] - w[0] + 1) * (x[2] - w[1] + 1) * w[3]);
        // relu true really clamps (the inputs give negative sums), false really does not.
        expect(cpu.some((v) => v < 0)).toBe(!relu);
        expect(wasm.some((v) => v < 0)).toBe(!relu);
      });
    }
  }

  it('a NaN input stays NaN through the relu (a diverged model is not hidden)', async () => {
    await tf.setBackend('wasm');
    const xs = seeded(2 * 5 * 5, 3);
    xs[7] = Number.NaN;
    const out = tf.engine().runKernel(SINGLE_CHANNEL_CONV, { x: tf.tensor4d(xs, [2, 5, 5, 1]), filter: tf.ones([3, 3, 1, 4]), bias: tf.zeros([4]) }, { relu: true } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const values = out.dataSync();
    // x[0, 1, 2] feeds the outputs (i, j) with i ∈ 0…1, j ∈ 0…2 of image 0: 6 positions × 4 channels.
    expect(Array.from(values).filter(Number.isNaN).length).toBe(24);
    tf.dispose(out);
  });

  it('geometries: O a multiple of 4 up to 16, at most 49 taps, one input channel, a filter that fits', () => {
    expect(singleChannelConvSupported({ filterHeight: 3, filterWidth: 3, outChannels: 8, inWidth: 28 })).toBe(true);
    expect(singleChannelConvSupported({ filterHeight: 3, filterWidth: 3, outChannels: 16, inWidth: 28 })).toBe(true);
    expect(singleChannelConvSupported({ filterHeight: 3, filterWidth: 3, outChannels: 6, inWidth: 28 })).toBe(false);
    expect(singleChannelConvSupported({ filterHeight: 3, filterWidth: 3, outChannels: 20, inWidth: 28 })).toBe(false);
    expect(singleChannelConvSupported({ filterHeight: 3, filterWidth: 3, outChannels: 0, inWidth: 28 })).toBe(false);
    expect(singleChannelConvSupported({ filterHeight: 7, filterWidth: 7, outChannels: 4, inWidth: 28 })).toBe(true);
    expect(singleChannelConvSupported({ filterHeight: 7, filterWidth: 8, outChannels: 4, inWidth: 28 })).toBe(false);
    expect(singleChannelConvSupported({ filterHeight: 3, filterWidth: 5, outChannels: 4, inWidth: 4 })).toBe(false);
    expect(singleChannelConvGeometry([2, 28, 28, 1], [3, 3, 1, 8])).toEqual({ filterHeight: 3, filterWidth: 3, outChannels: 8, inWidth: 28 });
    expect(singleChannelConvGeometry([2, 28, 28, 3], [3, 3, 3, 8])).toBeUndefined();
    expect(singleChannelConvGeometry([2, 2, 28, 1], [3, 3, 1, 8])).toBeUndefined();
    expect(singleChannelConvGeometry([28, 28, 1], [3, 3, 1, 8])).toBeUndefined();
    for (const o of [4, 8, 12, 16]) expect(WebAssembly.validate(singleChannelConvModuleBytes({ filterHeight: 3, filterWidth: 3, outChannels: o, inWidth: 28 })), `O ${o}`).toBe(true);
    expect(() => singleChannelConvModuleBytes({ filterHeight: 3, filterWidth: 3, outChannels: 6, inWidth: 28 })).toThrow(RangeError);
  });

  it('available only on wasm, for a supported geometry', async () => {
    await tf.setBackend('wasm');
    expect(singleChannelConvAvailable(tf.backend(), [2, 28, 28, 1], [3, 3, 1, 8])).toBe(true);
    expect(singleChannelConvAvailable(tf.backend(), [2, 28, 28, 1], [3, 3, 1, 6])).toBe(false);
    expect(singleChannelConvAvailable(tf.backend(), [2, 28, 28, 2], [3, 3, 2, 8])).toBe(false);
    await tf.setBackend('cpu');
    expect(singleChannelConvAvailable(tf.backend(), [2, 28, 28, 1], [3, 3, 1, 8])).toBe(false);
    await tf.setBackend('wasm');
  });

  it('refuses what it does not serve with a plain error (the caller checks first)', async () => {
    await tf.setBackend('wasm');
    const run = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => () => tf.engine().runKernel(SINGLE_CHANNEL_CONV, { x, filter: w, bias: b }, { relu: true } as unknown as tf.NamedAttrMap);
    expect(run(tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 2, 4]), tf.ones([4]))).toThrow(/FedtuneSingleChannelConv/);
    expect(run(tf.ones([1, 5, 5, 1]), tf.ones([3, 3, 1, 4]), tf.ones([8]))).toThrow(/FedtuneSingleChannelConv/);
    expect(run(tf.ones([1, 5, 5, 1], 'int32'), tf.ones([3, 3, 1, 4]), tf.ones([4]))).toThrow(/FedtuneSingleChannelConv/);
  });
});
