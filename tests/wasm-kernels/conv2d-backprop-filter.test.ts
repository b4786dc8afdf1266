import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { filterGradientModuleBytes } from '../../shared/src/wasm-kernels/filter-gradient-kernels.ts';
import { validOutputRange } from '../../shared/src/wasm-kernels/kernels/conv2d-backprop-filter.ts';
import { onCpuAndWasm, relativeError, seeded, setUpWasm, size } from './helpers.ts';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  label: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number | [number, number];
  pad: Pad;
  /** Expected to run the direct SIMD kernel (else the XNNPACK fallback). */
  direct: boolean;
}

const cases: Case[] = [
  { label: 'cnn conv1 (cin 1)', x: [32, 28, 28, 1], filter: [3, 3, 1, 8], stride: 1, pad: 'valid', direct: true },
  { label: 'cnn conv2', x: [32, 13, 13, 8], filter: [3, 3, 8, 16], stride: 1, pad: 'valid', direct: true },
  { label: 'same padding', x: [3, 7, 7, 3], filter: [3, 3, 3, 4], stride: 1, pad: 'same', direct: true },
  { label: 'stride 2, same, odd size', x: [2, 7, 8, 3], filter: [3, 3, 3, 8], stride: 2, pad: 'same', direct: true },
  { label: 'stride [2,1], 2×3 filter', x: [2, 8, 5, 2], filter: [2, 3, 2, 12], stride: [2, 1], pad: 'valid', direct: true },
  { label: 'explicit padding', x: [1, 5, 6, 2], filter: [3, 3, 2, 8], stride: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]], direct: true },
  { label: 'stride 3 (taps outside every window)', x: [2, 9, 9, 2], filter: [2, 2, 2, 4], stride: 3, pad: 'valid', direct: true },
  { label: 'filter larger than the image, same', x: [2, 2, 2, 3], filter: [5, 5, 3, 4], stride: 1, pad: 'same', direct: true },
  { label: '1×1 image, 1×1 filter', x: [4, 1, 1, 5], filter: [1, 1, 5, 20], stride: 1, pad: 'valid', direct: true },
  { label: '32 output channels (two 16-wide blocks)', x: [2, 6, 6, 3], filter: [3, 3, 3, 32], stride: 1, pad: 'same', direct: true },
  { label: '6 output channels (fallback)', x: [2, 6, 6, 3], filter: [3, 3, 3, 6], stride: 1, pad: 'same', direct: false },
  { label: '1 output channel (fallback)', x: [2, 6, 6, 3], filter: [3, 3, 3, 1], stride: 2, pad: 'valid', direct: false },
];

/** The kernel called directly, as tf.grad calls it. */
function filterGrad(c: Case, xs: Float32Array, dys: Float32Array, dyShape: number[]): tf.Tensor {
  return tf.engine().runKernel(
    tf.Conv2DBackpropFilter,
    { x: tf.tensor4d(xs, c.x), dy: tf.tensor(dys, dyShape) },
    { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter },
  ) as tf.Tensor;
}

function dyShapeOf(c: Case): number[] {
  return tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.stride, c.pad).shape);
}

beforeAll(setUpWasm);

describe('Conv2DBackpropFilter on wasm: direct SIMD accumulation on the heap', () => {
  it('the wasm module validates', () => {
    expect(WebAssembly.validate(filterGradientModuleBytes())).toBe(true);
  });

  for (const c of cases) {
    it(`${c.label}: ${c.direct ? '≤ 1e-6 relative to' : 'matches'} the cpu backend, ${c.direct ? 'direct kernel' : 'XNNPACK fallback'}`, async () => {
      const dyShape = dyShapeOf(c);
      const xs = seeded(size(c.x), 11);
      const dys = seeded(size(dyShape), 12);
      const result = await onCpuAndWasm(() => filterGrad(c, xs, dys, dyShape));
      expect(result.wasm[0]!.length).toBe(size(c.filter));
      expect(relativeError(result.wasm[0]!, result.cpu[0]!)).toBeLessThanOrEqual(c.direct ? 1e-6 : 1e-4);
      expect(result.wasm[0]!.some((v) => v !== 0)).toBe(true);
      // Which path ran: the fallback runs Transpose and Conv2D kernels inside, the direct kernel none.
      const profile = await tf.profile(() => filterGrad(c, xs, dys, dyShape));
      const inner = profile.kernelNames.filter((n) => n !== tf.Conv2DBackpropFilter);
      if (c.direct) expect(inner).toEqual([]);
      else expect(inner).toContain(tf.Conv2D);
      tf.dispose(profile.result as tf.Tensor);
    });
  }

  it('is the filter gradient of tf.conv2d through tf.grad (stride 2, same), equal to the cpu backend to 1e-6', async () => {
    const xs = seeded(2 * 9 * 8 * 4, 3);
    const ws = seeded(3 * 3 * 4 * 8, 4);
    const result = await onCpuAndWasm(() => {
      const x = tf.tensor4d(xs, [2, 9, 8, 4]);
      const f = (w: tf.Tensor4D): tf.Scalar => tf.sum(tf.square(tf.conv2d(x, w, 2, 'same')));
      return tf.grad(f as (w: tf.Tensor) => tf.Tensor)(tf.tensor4d(ws, [3, 3, 4, 8]));
    });
    expect(relativeError(result.wasm[0]!, result.cpu[0]!)).toBeLessThanOrEqual(1e-6);
  });

  it('non-finite inputs propagate as on the cpu backend (NaN stays NaN, ±Infinity stays infinite)', async () => {
    const c = cases[2]!;
    const dyShape = dyShapeOf(c);
    const xs = seeded(size(c.x), 5);
    xs[0] = NaN;
    xs[10] = Infinity;
    const dys = seeded(size(dyShape), 6);
    const { cpu, wasm } = await onCpuAndWasm(() => filterGrad(c, xs, dys, dyShape));
    for (let i = 0; i < cpu[0]!.length; i++) {
      const [a, b] = [cpu[0]![i]!, wasm[0]![i]!];
      if (Number.isFinite(a)) expect(Math.abs(a - b), `element ${i}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(a)));
      else expect(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), `element ${i}: ${a} vs ${b}`).toBe(true);
    }
  });

  it('validOutputRange: the outputs whose input index stays inside the image', () => {
    // size 7, stride 2, pad 1 (same, 3×3): tap 0 reads 2o − 1 → o ≥ 1; tap 2 reads 2o + 1 ≤ 6 → o ≤ 2.
    expect(validOutputRange(0, 2, 1, 7, 4)).toEqual([1, 4]);
    expect(validOutputRange(2, 2, 1, 7, 4)).toEqual([0, 3]);
    expect(validOutputRange(1, 1, 0, 5, 3)).toEqual([0, 3]);
    expect(validOutputRange(4, 1, 2, 2, 2)).toEqual([0, 0]); // filter 5 over a 2-wide image: no output
    expect(validOutputRange(2, 3, 0, 9, 3)).toEqual([0, 3]);
  });

  it('repeated calls leave tf.memory().numTensors and the wasm data ids unchanged', async () => {
    await tf.setBackend('wasm');
    const c = cases[1]!;
    const dyShape = dyShapeOf(c);
    const xs = seeded(size(c.x), 1);
    const dys = seeded(size(dyShape), 2);
    tf.tidy(() => {
      filterGrad(c, xs, dys, dyShape);
    });
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) tf.tidy(() => {
      filterGrad(c, xs, dys, dyShape);
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(dataIds);
  });
});
