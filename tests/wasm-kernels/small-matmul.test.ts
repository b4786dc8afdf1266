import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { smallGemmModuleBytes } from '../../shared/src/wasm-kernels/small-gemm-kernels.ts';
import { SMALL_GEMM_MAX_MACS, SMALL_GEMM_MAX_MACS_TRANSPOSED_B, smallMatMul } from '../../shared/src/wasm-kernels/small-matmul.ts';
import { expectClose, onCpuAndWasm, seeded, setUpWasm, size } from './helpers.ts';

beforeAll(setUpWasm);

const swap = (s: number[]): number[] => [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
/** [M, K, N]: tails of every width (N mod 16, N mod 4), single rows and columns, K = 1, the Dense layers of the small models. */
const SHAPES: Array<[number, number, number]> = [
  [30, 5, 124], [30, 124, 64], [30, 64, 32], [30, 32, 2], [32, 400, 10], [32, 10, 400], [3, 7, 37], [1, 1, 1], [1, 9, 16], [5, 1, 33], [17, 3, 4], [2, 6, 20],
];

describe('small products on wasm (small-gemm-kernels.ts)', () => {
  it('the wasm module validates', () => {
    expect(WebAssembly.validate(smallGemmModuleBytes())).toBe(true);
  });

  for (const [m, k, n] of SHAPES)
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const)
      it(`BatchMatMul ${m}×${k}×${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''} equals the cpu backend`, async () => {
        const as = ta ? [k, m] : [m, k];
        const bs = tb ? [n, k] : [k, n];
        const av = seeded(size(as), m * 7 + k);
        const bv = seeded(size(bs), n * 3 + k);
        expectClose(await onCpuAndWasm(() => tf.matMul(tf.tensor(av, as), tf.tensor(bv, bs), ta, tb)), 1e-5);
      });

  for (const [m, k, n] of SHAPES)
    for (const activation of ['linear', 'relu'] as const)
      it(`_FusedMatMul ${m}×${k}×${n} + bias, ${activation}, equals the cpu backend`, async () => {
        const av = seeded(m * k, 11 + m);
        const bv = seeded(k * n, 12 + n);
        const biasv = seeded(n, 13);
        expectClose(await onCpuAndWasm(() => tf.fused.matMul({ a: tf.tensor2d(av, [m, k]), b: tf.tensor2d(bv, [k, n]), bias: tf.tensor1d(biasv), activation })), 1e-5);
      });

  it('ReLU as the cpu backend: negatives to 0, NaN kept; a NaN or Infinity in an operand propagates', async () => {
    const a = tf.tensor2d([1, NaN, 2, 3, -1, 4], [2, 3]);
    const b = tf.tensor2d([1, 0, 0, 1, 1, -1, 2, 2, 0, 0, 0, 0, 5, 5, 5, -5, -5, -5], [3, 6]);
    const fused = tf.fused.matMul({ a, b, activation: 'relu' });
    const values = Array.from(fused.dataSync());
    expect(values.slice(0, 6).every(Number.isNaN)).toBe(true);
    // Row 1: 3·row0 − row1 + 4·row2 = [21, 18, 20, −17, −17, −23] → ReLU.
    expect(values.slice(6)).toEqual([21, 18, 20, 0, 0, 0]);
    tf.dispose([a, b, fused]);
  });

  it('a Dense layer’s gradients (dx, dW, db) equal the cpu backend’s', async () => {
    const xv = seeded(30 * 5, 21);
    const wv = seeded(5 * 124, 22);
    const bv = seeded(124, 23);
    expectClose(
      await onCpuAndWasm(() =>
        tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b)))))([tf.tensor2d(xv, [30, 5]), tf.tensor2d(wv, [5, 124]), tf.tensor1d(bv)]),
      ),
      1e-5,
    );
  });

  it('takes one matrix each up to SMALL_GEMM_MAX_MACS, float32, one bias value per column; leaves the rest to XNNPACK', () => {
    const backend = tf.backend();
    const t = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => tf.zeros(shape, dtype);
    const used = (a: tf.Tensor, b: tf.Tensor, o: Parameters<typeof smallMatMul>[3] = {}) => {
      const out = smallMatMul(backend, a, b, o);
      if (out) backend.disposeData(out.dataId);
      tf.dispose([a, b]);
      return out !== undefined;
    };
    expect(used(t([30, 5]), t([5, 124]))).toBe(true);
    expect(used(t([1, 30, 5]), t([1, 5, 124]))).toBe(true);
    expect(used(t([2, 30, 5]), t([2, 5, 124]))).toBe(false); // a batch of matrices
    expect(used(t([30, 5], 'int32'), t([5, 124], 'int32'))).toBe(false);
    const side = Math.ceil(Math.cbrt(SMALL_GEMM_MAX_MACS)) + 1;
    expect(used(t([side, side]), t([side, side]))).toBe(false); // above the bound
    expect(used(t([64, 128]), t([128, 128]))).toBe(true); // exactly 2^20
    expect(used(t([64, 128]), t([128, 129]))).toBe(false);
    expect(SMALL_GEMM_MAX_MACS).toBe(2 ** 20);
    // a·bᵀ (a Dense layer's input gradient): XNNPACK could not reuse a packing there, so up to 2^23.
    expect(used(t([64, 128]), t([129, 128]), { transposeB: true })).toBe(true);
    expect(used(t([256, 256]), t([128, 256]), { transposeB: true })).toBe(true); // exactly 2^23
    expect(used(t([256, 256]), t([129, 256]), { transposeB: true })).toBe(false);
    expect(SMALL_GEMM_MAX_MACS_TRANSPOSED_B).toBe(2 ** 23);
    const wrongBias = tf.zeros([5]);
    expect(used(t([30, 5]), t([5, 124]), { bias: wrongBias })).toBe(false);
    wrongBias.dispose();
  });

  it('leaves nothing behind: a transposed right operand’s scratch copy is freed', async () => {
    await tf.setBackend('wasm');
    const run = () => tf.tidy(() => tf.matMul(tf.ones([30, 64]), tf.ones([124, 64]), false, true).dataSync());
    run();
    const tensors = tf.memory().numTensors;
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) run();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(ids);
  });
});
