import { memoryBoundKernels } from './memory-bound-kernels.ts';
import { I32, V128, body, get, name, section, set, vec } from './optimizer-kernels.ts';
import { F32X4_ADD, F32X4_MUL, F32X4_SPLAT, I32_ADD, I32_MUL, ZERO, addTo, countTo, f32load, i32, stepTo, vload, vstore } from './wasm-code.ts';

/**
 * A dense product of many rows as a wasm SIMD module on tfjs-backend-wasm's heap:
 *
 *   C[i, j] = Σ_k A[i·lda + k] · B[k, j]      (B and C row-major, N columns)
 *
 * for M a multiple of ROWS and N a multiple of 16. Each sum runs k = 0, 1, …, K − 1 in float32 (a multiply,
 * then an add: no fused multiply-add), from 0 — the order of small-gemm-kernels.ts and of tfjs-backend-wasm's
 * XNNPACK product, so the three give the same bits.
 *
 * Why: small-gemm-kernels.ts computes 16 columns of one row at a time, loading each of B's vectors once per
 * row; here ROWS rows share each load (ROWS × 4 f32x4 sums in registers), which is what a product of a few
 * hundred rows needs (model inspection's first layer over the site's sample: 256 × 784 × 128).
 */
export interface RowBlockGemmKernels {
  /** Byte offsets of A, B, C; A's row stride in bytes; counts M (a multiple of ROWS), K, N (a multiple of 16). */
  gemm(a: number, lda: number, b: number, c: number, m: number, k: number, n: number): void;
}

/** Rows computed together (2 × 4 accumulators, 2 splats and one B vector: 11 of x64's 16 SIMD registers; 3 and 4 rows measured slower). */
export const ROW_BLOCK = 2;

function gemmBody(rows: number): number[] {
  const [A, LDA, B, C, M, K, N] = [0, 1, 2, 3, 4, 5, 6];
  const [i, k, jb, bp, nb, arow, crow, c64, step] = [7, 8, 9, 10, 11, 12, 13, 14, 15];
  const ap = (r: number): number => 16 + r; // i32 locals 16 … 16 + rows − 1
  const v = 16 + rows; // v128 locals: av (rows), acc (rows × 4), bv
  const av = (r: number): number => v + r;
  const acc = (r: number, q: number): number => v + rows + 4 * r + q;
  const bv = v + rows + 4 * rows;
  const pairs = (f: (r: number, q: number) => number[]): number[] => Array.from({ length: rows }, (_, r) => Array.from({ length: 4 }, (_, q) => f(r, q)).flat()).flat();
  const block = [
    ...pairs((r, q) => [...ZERO, ...set(acc(r, q))]),
    ...Array.from({ length: rows }, (_, r) => [...get(arow), ...(r === 0 ? [] : [...get(LDA), ...i32(r), I32_MUL, I32_ADD]), ...set(ap(r))]).flat(),
    ...get(B), ...get(jb), I32_ADD, ...set(bp),
    ...countTo(k, K, [
      ...Array.from({ length: rows }, (_, r) => [...get(ap(r)), ...f32load, ...F32X4_SPLAT, ...set(av(r)), ...get(ap(r)), ...i32(4), I32_ADD, ...set(ap(r))]).flat(),
      ...Array.from({ length: 4 }, (_, q) => [
        ...get(bp), ...vload(16 * q), ...set(bv),
        ...Array.from({ length: rows }, (_, r) => [...get(acc(r, q)), ...get(av(r)), ...get(bv), ...F32X4_MUL, ...F32X4_ADD, ...set(acc(r, q))]).flat(),
      ]).flat(),
      ...addTo(bp, nb),
    ]),
    ...pairs((r, q) => [...get(crow), ...(r === 0 ? [] : [...get(nb), ...i32(r), I32_MUL, I32_ADD]), ...get(jb), I32_ADD, ...get(acc(r, q)), ...vstore(16 * q)]),
  ];
  const code = [
    ...get(N), ...i32(4), I32_MUL, ...set(nb),
    ...i32(64), ...set(c64),
    ...i32(rows), ...set(step),
    ...get(A), ...set(arow),
    ...get(C), ...set(crow),
    ...stepTo(i, M, step, [
      ...stepTo(jb, nb, c64, block),
      ...get(arow), ...get(LDA), ...i32(rows), I32_MUL, I32_ADD, ...set(arow),
      ...get(crow), ...get(nb), ...i32(rows), I32_MUL, I32_ADD, ...set(crow),
    ]),
  ];
  return body([[9 + rows, I32], [rows + 4 * rows + 1, V128]], code);
}

function moduleBytes(rows = ROW_BLOCK): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(7).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('gemm'), 0x00, 0]])),
    ...section(10, vec([gemmBody(rows)])),
  ]);
}

/** The kernel bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const rowBlockGemmKernels: (memory: WebAssembly.Memory) => RowBlockGemmKernels | undefined = memoryBoundKernels<RowBlockGemmKernels>(() => moduleBytes());

/** Exposed for tests and the bench: the module for `rows` rows per block. */
export const rowBlockGemmModuleBytes = moduleBytes;
