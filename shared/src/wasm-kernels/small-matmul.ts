import * as tf from '@tensorflow/tfjs';
import { wasmBackendMemory } from './optimizer-kernels.ts';
import { smallGemmKernels } from './small-gemm-kernels.ts';
import { asWasmHeapBackend } from './wasm-heap.ts';

/**
 * The largest product, in multiply-adds (M·K·N), that runs on the small-matrix kernel (small-gemm-kernels.ts)
 * instead of XNNPACK. Measured here (bench: a fresh right operand each call, as in training): the kernel runs
 * at ~22 GFLOP/s from 100k multiply-adds up, XNNPACK at 2–3× the time with a new right operand (it packs it
 * first: 32×784×128, 686 against 286 µs) and 0.7–0.9× with a cached one. Above 2^20 a cached operand's
 * advantage grows (inference of larger layers); the CNN step was 2–4 % slower with the bound at 2^22.
 */
export const SMALL_GEMM_MAX_MACS = 1 << 20;

/**
 * The same bound for a transposed right operand (a·bᵀ: every Dense layer's input gradient). XNNPACK can
 * never reuse a packing there — the stock path transposes b into a new tensor first, then packs that — so
 * the kernel is the faster up to far larger products (32×512×512: 1.17 against 1.95 ms).
 */
export const SMALL_GEMM_MAX_MACS_TRANSPOSED_B = 1 << 23;

const batchOf = (shape: readonly number[]): number => shape.slice(0, -2).reduce((p, d) => p * d, 1);

/**
 * a·b (each optionally transposed: the last two axes), + bias and ReLU when given, on the small-matrix
 * kernel — or undefined when it does not apply (not float32, a batch of more than one matrix, a product
 * above SMALL_GEMM_MAX_MACS (SMALL_GEMM_MAX_MACS_TRANSPOSED_B for a·bᵀ), a bias that is not one value per column, no wasm SIMD): the caller then runs
 * XNNPACK. A transposed b is copied once into row-major order first (K·N values); a transposed a is read
 * through its strides.
 */
export function smallMatMul(
  backend: unknown,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  { transposeA = false, transposeB = false, bias, relu = false }: { transposeA?: boolean; transposeB?: boolean; bias?: tf.TensorInfo; relu?: boolean },
): tf.TensorInfo | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  if (batchOf(a.shape) !== 1 || batchOf(b.shape) !== 1) return undefined;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const [kb, n] = transposeB ? [bc, br] : [br, bc];
  if (k !== kb || m * k * n > (transposeB ? SMALL_GEMM_MAX_MACS_TRANSPOSED_B : SMALL_GEMM_MAX_MACS) || m * k * n === 0) return undefined;
  if (bias && (bias.dtype !== 'float32' || bias.shape.reduce((p, d) => p * d, 1) !== n)) return undefined;
  const memory = wasmBackendMemory(backend);
  const kernels = memory && smallGemmKernels(memory);
  if (!kernels) return undefined;
  const heap = asWasmHeapBackend(backend);
  const outShape = [...tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
  const out = heap.makeOutput(outShape, 'float32');
  // b as row-major [K, N]: a transposed b ([N, K]) is copied into a scratch buffer first.
  const scratch = transposeB ? heap.makeOutput([k, n], 'float32') : undefined;
  // Views only after every allocation: growing the wasm memory detaches earlier views.
  const view = (t: tf.TensorInfo) => heap.typedArrayFromHeap(t) as Float32Array;
  if (scratch) {
    const src = view(b);
    const dst = view(scratch);
    for (let j = 0; j < n; j++) for (let kk = 0, s = j * k; kk < k; kk++, s++) dst[kk * n + j] = src[s]!;
  }
  const av = view(a);
  kernels.gemm(av.byteOffset, transposeA ? 4 : k * 4, transposeA ? m * 4 : 4, view(scratch ?? b).byteOffset, view(out).byteOffset, m, k, n, bias ? view(bias).byteOffset : 0, bias ? 1 : 0, relu ? 1 : 0);
  if (scratch) (backend as tf.KernelBackend).disposeData(scratch.dataId);
  return out;
}
