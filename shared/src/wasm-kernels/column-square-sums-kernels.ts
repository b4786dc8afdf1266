import { memoryBoundKernels } from './memory-bound-kernels.ts';
import { I32, V128, body, get, name, section, set, simd, vec } from './optimizer-kernels.ts';
import { F64X2_ADD, HIGH_HALF, I32_ADD, I32_GE_S, I32_MUL, PROMOTE_LOW, countTo, i32, stepTo, vload, vstore } from './wasm-code.ts';

/**
 * The sum of squares of every column of a float32 matrix, in float64, as a wasm SIMD module on
 * tfjs-backend-wasm's heap:
 *
 *   out[j] += Σ_i K[i, j]²      (K row-major, `rows` × `cols`; out float64, zeroed by the caller)
 *
 * Each square is exact in float64 (a float32 has 24 significant bits) and each column's sum runs i = 0, 1, …
 * in float64, so the result is the one of the JavaScript loop `s[j] += k[i·cols + j] * k[i·cols + j]` to the
 * bit. Model inspection's row norms (a Dense kernel [fanIn, units]: one column per unit) come from it.
 */
export interface ColumnSquareSumsKernels {
  /** Byte offsets of K (float32) and out (float64, 8-byte aligned); counts rows and cols. */
  sumsq(k: number, out: number, rows: number, cols: number): void;
}

const F64X2_MUL = simd(0xf2);
const f32load = [0x2a, 2, 0];
const f64load = [0x2b, 3, 0];
const f64store = [0x39, 3, 0];
const F64_PROMOTE_F32 = 0xbb;
const F64_MUL = 0xa2;
const F64_ADD = 0xa0;

function sumsqBody(): number[] {
  const [K, OUT, ROWS, COLS] = [0, 1, 2, 3];
  const [i, jb, kp, op, vecBytes, rowBytes, c16, c4] = [4, 5, 6, 7, 8, 9, 10, 11];
  const [v, w] = [12, 13];
  /** out[op + offset] (f64x2) += w² */
  const accumulate = (offset: number): number[] => [...get(op), ...get(op), ...vload(offset), ...get(w), ...get(w), ...F64X2_MUL, ...F64X2_ADD, ...vstore(offset)];
  const code = [
    ...get(COLS), ...i32(4), I32_MUL, ...set(rowBytes),
    ...get(COLS), 0x41, 0x7c /* i32.const -4 */, 0x71 /* i32.and */, ...i32(4), I32_MUL, ...set(vecBytes),
    ...i32(16), ...set(c16), ...i32(4), ...set(c4),
    ...get(K), ...set(kp),
    ...countTo(i, ROWS, [
      // Four columns at a time: their float32 values promoted in two f64x2 halves.
      ...stepTo(jb, vecBytes, c16, [
        ...get(kp), ...get(jb), I32_ADD, ...vload(0), ...set(v),
        ...get(OUT), ...get(jb), ...i32(2), I32_MUL, I32_ADD, ...set(op),
        ...get(v), ...PROMOTE_LOW, ...set(w), ...accumulate(0),
        ...get(v), ...get(v), ...HIGH_HALF, ...PROMOTE_LOW, ...set(w), ...accumulate(16),
      ]),
      // The last cols mod 4 columns one by one (jb continues from vecBytes).
      0x02, 0x40, 0x03, 0x40,
      ...get(jb), ...get(rowBytes), I32_GE_S, 0x0d, 1,
      ...get(OUT), ...get(jb), ...i32(2), I32_MUL, I32_ADD, ...set(op),
      ...get(op),
      ...get(op), ...f64load,
      ...get(kp), ...get(jb), I32_ADD, ...f32load, F64_PROMOTE_F32,
      ...get(kp), ...get(jb), I32_ADD, ...f32load, F64_PROMOTE_F32,
      F64_MUL, F64_ADD, ...f64store,
      ...get(jb), ...get(c4), I32_ADD, ...set(jb),
      0x0c, 0, 0x0b, 0x0b,
      ...get(kp), ...get(rowBytes), I32_ADD, ...set(kp),
    ]),
  ];
  return body([[8, I32], [2, V128]], code);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(4).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('sumsq'), 0x00, 0]])),
    ...section(10, vec([sumsqBody()])),
  ]);
}

/** The kernel bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const columnSquareSumsKernels: (memory: WebAssembly.Memory) => ColumnSquareSumsKernels | undefined = memoryBoundKernels<ColumnSquareSumsKernels>(moduleBytes);

/** Exposed for tests: the module validates. */
export const columnSquareSumsModuleBytes = moduleBytes;
