import * as tf from '@tensorflow/tfjs';
import { ROW_BLOCK, rowBlockGemmKernels, type RowBlockGemmKernels } from '../wasm-kernels/row-block-gemm-kernels.ts';
import { smallGemmKernels, type SmallGemmKernels } from '../wasm-kernels/small-gemm-kernels.ts';
import { columnSquareSumsKernels, type ColumnSquareSumsKernels } from '../wasm-kernels/column-square-sums-kernels.ts';
import { wasmBackendMemory } from '../wasm-kernels/optimizer-kernels.ts';
import { asWasmHeapBackend, type WasmHeapBackend } from '../wasm-kernels/wasm-heap.ts';

/**
 * The two products of model inspection (inspect-model.ts) on tfjs-backend-wasm's heap, without tfjs's engine:
 * the first Dense layer over the site's sample (which units fire for which example) and the duplicate-row
 * sketch (the rows' random projection and its cosines). Each call takes one workspace on the heap, frees it
 * before it returns, and makes no tensor.
 *
 * Why: through tfjs the inspection of the built-in MLP was ~15 kernel launches, the sample uploaded as a
 * tensor, a transpose of the kernel for the sketch and a copy of every result; its one large product (256 ×
 * 784 × 128) now runs on the row-blocked kernel (row-block-gemm-kernels.ts, two rows share each load of the
 * kernel), the sketch's projection too (Pᵀ·K), its Gram matrix on the small-matrix kernel, and the rows' squared
 * norms on a float64 SIMD kernel (column-square-sums-kernels.ts), all in one workspace.
 *
 * The same numbers as the tensor path: every product sums k = 0, 1, … in float32 from 0, as tfjs-backend-wasm's
 * XNNPACK product does (tests/policy/inspect-model-baseline.test.ts compares the products bit for bit, and the units fired),
 * and a unit fires where z + b > 0 — the sign of the float32 sum tfjs's `add` rounds, as a nonzero exact sum of
 * two floats never rounds to zero or across it.
 */
export interface InspectionHeap {
  backend: WasmHeapBackend;
  memory: WebAssembly.Memory;
  small: SmallGemmKernels;
  rows: RowBlockGemmKernels;
  squares: ColumnSquareSumsKernels;
}

/** The heap and its kernels on the wasm backend with SIMD; undefined elsewhere (the tensor path runs). */
export function inspectionHeap(): InspectionHeap | undefined {
  const backend = tf.backend();
  const memory = wasmBackendMemory(backend);
  const small = memory && smallGemmKernels(memory);
  const rows = memory && rowBlockGemmKernels(memory);
  const squares = memory && columnSquareSumsKernels(memory);
  if (!memory || !small || !rows || !squares) return undefined;
  return { backend: asWasmHeapBackend(backend), memory, small, rows, squares };
}

/** Rounds up to a multiple of `m`. */
const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Runs `fn` with a workspace of `floats` float32 values on the heap (its first float's index in the heap view
 * `heap`, taken after the allocation), and frees the workspace after.
 */
function withWorkspace<T>(h: InspectionHeap, floats: number, fn: (heap: Float32Array, at: number) => T): T {
  const workspace = h.backend.makeOutput([Math.max(floats, 4)], 'float32');
  try {
    const at = h.backend.typedArrayFromHeap(workspace).byteOffset / 4;
    return fn(new Float32Array(h.memory.buffer), at);
  } finally {
    (tf.backend() as tf.KernelBackend).disposeData(workspace.dataId);
  }
}

/** A float32 tensor's byte offset on the heap (valid until the memory grows or the tensor is freed). */
function offsetOf(h: InspectionHeap, t: tf.Tensor): number {
  return h.backend.typedArrayFromHeap(t).byteOffset;
}

/**
 * Which units a Dense layer's kernel [fanIn, units] and bias fire for each of the `n` rows of `x` (n × fanIn
 * values): [n, units], 1 where x · W + b > 0. Rows are padded to the kernel's row block and units to 16
 * (zeros: the padding's sums are computed and never read).
 */
export function heapDenseFires(h: InspectionHeap, kernel: tf.Tensor, bias: tf.Tensor | undefined, x: Float32Array, n: number): Uint8Array {
  const [fanIn, units] = kernel.shape as [number, number];
  const rows = roundUp(n, ROW_BLOCK);
  const width = roundUp(units, 16);
  const padded = width !== units;
  const xAt = 0;
  const wAt = roundUp(xAt + rows * fanIn, 4);
  const zAt = roundUp(wAt + (padded ? fanIn * width : 0), 4);
  const fires = new Uint8Array(n * units);
  withWorkspace(h, zAt + rows * width, (heap, at) => {
    heap.set(x.subarray(0, n * fanIn), at + xAt);
    heap.fill(0, at + xAt + n * fanIn, at + xAt + rows * fanIn);
    let w = offsetOf(h, kernel);
    if (padded) {
      const k = new Float32Array(h.memory.buffer, w, fanIn * units);
      for (let i = 0; i < fanIn; i++) {
        const row = at + wAt + i * width;
        heap.set(k.subarray(i * units, (i + 1) * units), row);
        heap.fill(0, row + units, row + width);
      }
      w = 4 * (at + wAt);
    }
    h.rows.gemm(4 * (at + xAt), 4 * fanIn, w, 4 * (at + zAt), rows, fanIn, width);
    const b = bias ? new Float32Array(h.memory.buffer, offsetOf(h, bias), units) : undefined;
    for (let e = 0; e < n; e++) {
      const z = at + zAt + e * width;
      const out = e * units;
      if (b) for (let u = 0; u < units; u++) fires[out + u] = heap[z + u] + b[u] > 0 ? 1 : 0;
      else for (let u = 0; u < units; u++) fires[out + u] = heap[z + u] > 0 ? 1 : 0;
    }
  });
  return fires;
}

/** What the duplicate-row check needs of the kernel: its rows' squared norms and sketched cosines. */
export interface HeapRowStats {
  /** Σ_i K[i, u]² per unit u, in float64 (the JavaScript loop's numbers to the bit). */
  squares: Float64Array;
  /** The rows' cosines after the random projection, [units, units] row-major. */
  sketched: Float32Array;
}

/**
 * The kernel's rows (units of fanIn values; the kernel [fanIn, units] as stored) in one workspace: their squared
 * norms (column-square-sums-kernels.ts), and their cosines after projecting each on the `dims` columns of
 * `projection` [fanIn, dims] — S = Kᵀ·P (as Sᵀ = Pᵀ·K when units is a multiple of 16), each row of S scaled to
 * unit norm, and the Gram matrix U·Uᵀ the second product.
 */
export function heapRowStats(h: InspectionHeap, kernel: tf.Tensor, projection: Float32Array, units: number, fanIn: number, dims: number): HeapRowStats {
  const qAt = 0; // float64 squares: 2 floats each, at an 8-byte aligned start (the workspace is 16-byte aligned)
  const pAt = roundUp(2 * units, 4);
  const sAt = roundUp(pAt + fanIn * dims, 4);
  const tAt = roundUp(sAt + units * dims, 4);
  const gAt = roundUp(tAt + dims * units, 4);
  return withWorkspace(h, gAt + units * units, (heap, at) => {
    const k = offsetOf(h, kernel);
    new Float64Array(h.memory.buffer, 4 * (at + qAt), units).fill(0);
    h.squares.sumsq(k, 4 * (at + qAt), fanIn, units);
    // S (units × dims) as Sᵀ [dims, units] at sAt: with units a multiple of 16, Pᵀ · K on the row-blocked kernel (each
    // of K's rows loaded once per two rows of Pᵀ); else K read through its strides, one row of S at a time.
    const transposed = units % 16 === 0 && dims % ROW_BLOCK === 0;
    if (transposed) {
      heap.set(transposedProjection(projection, fanIn, dims), at + pAt);
      h.rows.gemm(4 * (at + pAt), 4 * fanIn, k, 4 * (at + sAt), dims, fanIn, units);
    } else {
      heap.set(projection, at + pAt);
      h.small.gemm(k, 4, 4 * units, 4 * (at + pAt), 4 * (at + sAt), units, fanIn, dims, 0, 0, 0);
    }
    // Uᵀ [dims, units]: row u of S scaled to unit norm (a zero row stays zero), stored as column u.
    const [uStride, dStride] = transposed ? [1, units] : [dims, 1];
    for (let u = 0; u < units; u++) {
      const s = at + sAt + u * uStride;
      let squares = 0;
      for (let d = 0; d < dims; d++) squares += heap[s + d * dStride] * heap[s + d * dStride];
      const norm = Math.max(Math.sqrt(squares), 1e-30);
      for (let d = 0; d < dims; d++) heap[at + tAt + d * units + u] = heap[s + d * dStride] / norm;
    }
    // G = U·Uᵀ: A = U read through Uᵀ's strides, B = Uᵀ.
    h.small.gemm(4 * (at + tAt), 4, 4 * units, 4 * (at + tAt), 4 * (at + gAt), units, dims, units, 0, 0, 0);
    return { squares: new Float64Array(h.memory.buffer, 4 * (at + qAt), units).slice(), sketched: heap.slice(at + gAt, at + gAt + units * units) };
  });
}

/** Pᵀ [dims, fanIn] of a projection P [fanIn, dims], kept as long as P is (sketchProjection keeps P per fan-in). */
const transposedProjections = new WeakMap<Float32Array, Float32Array>();
function transposedProjection(projection: Float32Array, fanIn: number, dims: number): Float32Array {
  let t = transposedProjections.get(projection);
  if (!t) {
    t = new Float32Array(fanIn * dims);
    for (let i = 0; i < fanIn; i++) for (let d = 0; d < dims; d++) t[d * fanIn + i] = projection[i * dims + d];
    transposedProjections.set(projection, t);
  }
  return t;
}

/** A float32 tensor's values on the heap, without a copy: valid until the heap's memory grows (the next allocation). */
export function heapValues(h: InspectionHeap, t: tf.Tensor): Float32Array {
  return h.backend.typedArrayFromHeap(t) as Float32Array;
}
