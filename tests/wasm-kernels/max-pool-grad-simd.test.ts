import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxPoolGradKernels, maxPoolGradModuleBytes } from '../../shared/src/wasm-kernels/max-pool-grad-kernels.ts';
import { poolWindowsCoverInput, simdPoolGradApplies } from '../../shared/src/wasm-kernels/kernels/max-pool-grad.ts';
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
  { label: '2×2 stride 2, odd width only (last column in no window)', shape: [3, 6, 9, 4], filter: 2, stride: 2, pad: 'valid', simd: true },
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

  it('2×2 windows at stride 2: every ordering of NaN, −Infinity, ties and signs in a window routes as on the cpu backend', async () => {
    // All 5⁴ windows over {NaN, −Infinity, −1, 0, 1}, one per output column, each channel a different rotation.
    const values = [NaN, -Infinity, -1, 0, 1];
    const windows = 625;
    const shape: Shape4 = [1, 2, 2 * windows, 4];
    const xs = new Float32Array(size(shape));
    for (let k = 0; k < windows; k++)
      for (let ch = 0; ch < 4; ch++) {
        const code = (k + ch * 157) % windows;
        const digit = (j: number): number => values[Math.floor(code / 5 ** j) % 5]!;
        // Row-major window order: (0,0), (0,1), (1,0), (1,1).
        xs[(0 * 2 * windows + 2 * k) * 4 + ch] = digit(0);
        xs[(0 * 2 * windows + 2 * k + 1) * 4 + ch] = digit(1);
        xs[(1 * 2 * windows + 2 * k) * 4 + ch] = digit(2);
        xs[(1 * 2 * windows + 2 * k + 1) * 4 + ch] = digit(3);
      }
    const dys = seeded(windows * 4, 43).map((v) => v + 2); // never 0: a routed gradient is visible
    const { cpu, wasm } = await onCpuAndWasm(() => {
      const x = tf.tensor4d(xs, shape);
      const dy = tf.tensor4d(dys, [1, 1, windows, 4]);
      return tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: tf.zerosLike(dy) }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
    });
    expect(Array.from(wasm[0]!)).toEqual(Array.from(cpu[0]!));
    // Windows of NaN and −Infinity only route nothing; every other window routes its dy exactly once.
    expect(wasm[0]!.filter((v) => v !== 0).length).toBe(4 * (windows - 2 ** 4));
  });

  it('zeroes dx first only where some input element is in no window', () => {
    const covers = (shape: Shape4, filter: number | [number, number], stride: number | [number, number]): boolean =>
      poolWindowsCoverInput(tf.backend_util.computePool2DInfo(shape, filter, stride, 1, 'valid'));
    expect(covers([2, 26, 26, 8], 2, 2)).toBe(true);
    expect(covers([2, 9, 12, 4], 3, 3)).toBe(true);
    expect(covers([2, 8, 9, 4], [2, 3], [2, 3])).toBe(true);
    expect(covers([2, 11, 11, 16], 2, 2)).toBe(false); // last row and column
    expect(covers([2, 10, 11, 4], 2, 2)).toBe(false); // last column only
    expect(covers([2, 11, 10, 4], 2, 2)).toBe(false); // last row only
    expect(covers([2, 5, 5, 4], 1, 2)).toBe(false); // gaps between windows
    expect(covers([2, 6, 6, 4], [1, 2], 2)).toBe(false); // gaps between rows only
    expect(covers([2, 6, 6, 4], [2, 1], 2)).toBe(false); // gaps between columns only
  });

  it('the 2×2 kernel itself writes every element of every window (dx need not be zeroed) and equals the general one', async () => {
    await tf.setBackend('wasm');
    const shape: Shape4 = [3, 6, 8, 8];
    const x = tf.tensor4d(valuesFor(shape), shape);
    const dy = tf.tensor4d(seeded(3 * 3 * 4 * 8, 44), [3, 3, 4, 8]);
    const backend = asWasmHeapBackend(tf.backend());
    const kernels = maxPoolGradKernels(wasmBackendMemory(tf.backend())!)!;
    const dx2 = tf.tensor4d(new Float32Array(size(shape)).fill(7), shape);
    const dxGeneral = tf.tensor4d(new Float32Array(size(shape)).fill(7), shape);
    const at = (t: tf.Tensor): number => backend.typedArrayFromHeap(t).byteOffset;
    const pixel = 8 * 4;
    kernels.maxPoolGrad2x2(at(x), at(dy), at(dx2), 3, 3, 4, pixel, 6 * 8 * pixel, 8 * pixel);
    kernels.maxPoolGrad(at(x), at(dy), at(dxGeneral), 3, 3, 4, 2, 2, pixel, 6 * 8 * pixel, 2 * 8 * pixel, 2 * pixel, 8 * pixel);
    const got = Array.from(dx2.dataSync());
    expect(got).not.toContain(7);
    expect(got).toEqual(Array.from(dxGeneral.dataSync()));
    expect(got.some((v) => v !== 0)).toBe(true);
    tf.dispose([x, dy, dx2, dxGeneral]);
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
