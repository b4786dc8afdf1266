import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxPoolGradKernels, maxPoolGradModuleBytes } from '../../shared/src/wasm-kernels/max-pool-grad-kernels.ts';
import { simdPoolGradApplies } from '../../shared/src/wasm-kernels/kernels/max-pool-grad.ts';
import { wasmBackendMemory } from '../../shared/src/wasm-kernels/optimizer-kernels.ts';
import { asWasmHeapBackend } from '../../shared/src/wasm-kernels/wasm-heap.ts';
import { onCpuAndWasm, seeded, setUpWasm, size } from './helpers.ts';

type Shape4 = [number, number, number, number];
interface Case {
  label: string;
  shape: Shape4;
  filter: number | [number, number];
  stride: number | [number, number];
  pad: 'same' | 'valid';
  simd: boolean;
}

const cases: Case[] = [
  { label: 'cnn pool1', shape: [32, 26, 26, 8], filter: 2, stride: 2, pad: 'valid', simd: true },
  { label: 'cnn pool2 (odd size: last row and column in no window)', shape: [32, 11, 11, 16], filter: 2, stride: 2, pad: 'valid', simd: true },
  { label: 'same padding, even size (no padding needed)', shape: [2, 8, 8, 4], filter: 2, stride: 2, pad: 'same', simd: true },
  { label: '3×3 windows, stride 3', shape: [2, 9, 10, 4], filter: 3, stride: 3, pad: 'valid', simd: true },
  { label: '2×3 windows, stride [2,3]', shape: [2, 8, 7, 12], filter: [2, 3], stride: [2, 3], pad: 'valid', simd: true },
  { label: '1×1 windows, stride 2 (gaps between windows)', shape: [1, 5, 5, 4], filter: 1, stride: 2, pad: 'valid', simd: true },
  { label: 'overlapping windows (fallback)', shape: [2, 7, 7, 4], filter: 3, stride: 2, pad: 'valid', simd: false },
  { label: 'same padding, odd size: clipped windows (fallback)', shape: [2, 7, 7, 8], filter: 2, stride: 2, pad: 'same', simd: false },
  { label: '6 channels (fallback)', shape: [2, 8, 8, 6], filter: 2, stride: 2, pad: 'valid', simd: false },
];

/** Mostly negative values, exact ties (every 7th is 0), NaN and −Infinity here and there. */
function valuesFor(shape: Shape4): Float32Array {
  return seeded(size(shape), 41).map((v, i) => (i % 97 === 5 ? NaN : i % 89 === 3 ? -Infinity : i % 7 === 0 ? 0 : v - 0.3));
}

beforeAll(setUpWasm);

describe('MaxPoolGrad on wasm: the SIMD kernel for non-overlapping windows', () => {
  it('the wasm module validates', () => {
    expect(WebAssembly.validate(maxPoolGradModuleBytes())).toBe(true);
  });

  for (const c of cases) {
    it(`${c.label}: equals the cpu backend exactly`, async () => {
      await tf.setBackend('cpu');
      const outShape = tf.maxPool(tf.zeros(c.shape) as tf.Tensor4D, c.filter, c.stride, c.pad).shape;
      const xs = valuesFor(c.shape);
      const dys = seeded(size(outShape), 42);
      const { cpu, wasm } = await onCpuAndWasm(() => {
        const x = tf.tensor4d(xs, c.shape);
        const dy = tf.tensor(dys, outShape);
        return tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: tf.zerosLike(dy) }, { filterSize: c.filter, strides: c.stride, pad: c.pad }) as tf.Tensor;
      });
      expect(Array.from(wasm[0]!)).toEqual(Array.from(cpu[0]!));
      expect(wasm[0]!.some((v) => v !== 0)).toBe(true);

      const info = tf.backend_util.computePool2DInfo(c.shape, c.filter, c.stride, 1, c.pad);
      expect(simdPoolGradApplies({ ...info, dtype: 'float32', top: info.padInfo.top, left: info.padInfo.left })).toBe(c.simd);
    });
  }

  it('the kernel itself, called on the heap: first maximum wins, NaN and −Infinity never win, zero elsewhere', async () => {
    await tf.setBackend('wasm');
    // One image 2×4, 4 channels, 2×2 windows stride 2: two windows per channel.
    // Left window — channel 0: plain maximum; 1: a tie (the first wins); 2: all NaN (no gradient); 3: NaN
    // first, then −1 wins. Right window — 0: all negative; 1: a tie at 0; 3: all −Infinity (no gradient).
    const px = (a: number, b: number, c: number, d: number): number[] => [a, b, c, d];
    const x = tf.tensor4d(
      [
        ...px(1, 5, NaN, NaN), ...px(3, 2, NaN, -1), ...px(-2, 0, NaN, -Infinity), ...px(-1, 0, NaN, -Infinity),
        ...px(0, 5, NaN, -3), ...px(2, 1, NaN, -2), ...px(-5, -1, NaN, -Infinity), ...px(-0.5, -1, NaN, -Infinity),
      ],
      [1, 2, 4, 4],
    );
    const dy = tf.tensor4d([10, 20, 30, 40, 50, 60, 70, 80], [1, 1, 2, 4]);
    const backend = asWasmHeapBackend(tf.backend());
    const memory = wasmBackendMemory(tf.backend())!;
    const kernels = maxPoolGradKernels(memory)!;
    expect(kernels).toBeDefined();
    const dx = tf.tensor4d(new Float32Array(32).fill(7), [1, 2, 4, 4]); // not zeroed: untouched elements stay 7
    const at = (t: tf.Tensor): number => backend.typedArrayFromHeap(t).byteOffset;
    kernels.maxPoolGrad(at(x), at(dy), at(dx), 1, 1, 2, 2, 2, 16, 2 * 4 * 16, 2 * 4 * 16, 2 * 16, 4 * 16);
    const got = Array.from(dx.dataSync());
    // Every element is in a window here, so each is written: dy at the winner, 0 elsewhere.
    const expected = [
      0, 20, 0, 0, /**/ 10, 0, 0, 40, /**/ 0, 60, 0, 0, /**/ 0, 0, 0, 0,
      0, 0, 0, 0, /**/ 0, 0, 0, 0, /**/ 0, 0, 0, 0, /**/ 50, 0, 0, 0,
    ];
    expect(got).toEqual(expected);
    tf.dispose([x, dy, dx]);
  });

  it('repeated calls through tf.grad leave tf.memory().numTensors and the wasm data ids unchanged', async () => {
    await tf.setBackend('wasm');
    const xs = seeded(size([4, 8, 8, 8]), 3);
    const run = (): void => {
      tf.tidy(() => {
        tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(tf.tensor4d(xs, [4, 8, 8, 8]));
      });
    };
    run();
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) run();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(dataIds);
  });
});
