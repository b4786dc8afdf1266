import { I32, V128, body, get, name, section, set, vec } from './optimizer-kernels.ts';
import { DEMOTE_ZERO, F32X4_ADD, F32X4_MUL, F32X4_SPLAT, F64X2_ADD, HIGH_HALF, I32_ADD, I32_MUL, JOIN_LOW_HALVES, PROMOTE_LOW, ZERO, addTo, countTo, f32load, i32, vload, vstore } from './wasm-code.ts';
import { memoryBoundKernels } from './memory-bound-kernels.ts';

/**
 * The conv2d filter gradient as a wasm SIMD module on tfjs-backend-wasm's heap (same memory import as
 * optimizer-kernels.ts), accumulated directly — no im2col, no transposes:
 *
 *   dW[r, s, c, o] = Σ_b Σ_i Σ_j x[b, i·sh + r − top, j·sw + s − left, c] · dy[b, i, j, o]
 *
 * One call computes one filter tap (r, s) for every c and o; the caller passes the window of (i, j) whose
 * input position is inside the image (padding contributes zeros), so the loops need no bounds tests. The
 * products of one output row (fixed b, i) are summed in float32 registers, four output channels per f32x4;
 * each row's sum is then added to a float64 accumulator (f64x2), in the cpu backend's order (b, then i, then
 * j), and the total is rounded to float32 once. The cpu backend sums every product in float64, so the two
 * differ only by the float32 rounding inside one row (≲ 1e-7 relative to the sum of |products|).
 *
 * `filterTap{V}` handles V f32x4 vectors (4·V output channels) per pass over the data; the caller picks the
 * largest V ≤ 4 that divides O/4, so O must be a multiple of 4.
 */
export interface FilterGradientKernels {
  /**
   * Byte offsets: x at (b 0, first valid input row and column of this tap, c 0), dy at (b 0, first valid
   * output row and column, o 0), dw at (r, s, 0, 0). Counts: C, O·4 (bytes of one dy position), batch,
   * rows, cols. Byte strides: x per batch, x per output row (sh·W·C·4), x per output column (sw·C·4), dy per
   * batch, dy per output row.
   */
  filterTap1(x: number, dy: number, dw: number, c: number, oBytes: number, batch: number, rows: number, cols: number, xBatch: number, xRow: number, xCol: number, dyBatch: number, dyRow: number): void;
  filterTap2: FilterGradientKernels['filterTap1'];
  filterTap3: FilterGradientKernels['filterTap1'];
  filterTap4: FilterGradientKernels['filterTap1'];
}

function filterTap(v: number): number[] {
  // Params 0–12 (see the interface). i32 locals 13–25, then v128 locals: row sums, low and high f64 sums, x.
  const [X, DY, DW, C, OBYTES, BATCH, ROWS, COLS, XBATCH, XROW, XCOL, DYBATCH, DYROW] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const [c, ob, b, i, j, xb, dyb, xr, dyr, xp, dyp, blocks, block] = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
  const row = (k: number): number => 26 + k;
  const lo = (k: number): number => 26 + v + k;
  const hi = (k: number): number => 26 + 2 * v + k;
  const xv = 26 + 3 * v;
  const ks = Array.from({ length: v }, (_, k) => k);
  const code = [
    // blocks = oBytes / (16·v)
    ...get(OBYTES), ...i32(16 * v), 0x6e /* i32.div_u */, ...set(blocks),
    ...countTo(c, C, [
      ...countTo(block, blocks, [
        ...get(block), ...i32(16 * v), I32_MUL, ...set(ob),
        ...ks.flatMap((k) => [...ZERO, ...set(lo(k)), ...ZERO, ...set(hi(k))]),
        ...get(X), ...get(c), ...i32(4), I32_MUL, I32_ADD, ...set(xb),
        ...get(DY), ...get(ob), I32_ADD, ...set(dyb),
        ...countTo(b, BATCH, [
          ...get(xb), ...set(xr), ...get(dyb), ...set(dyr),
          ...countTo(i, ROWS, [
            ...ks.flatMap((k) => [...ZERO, ...set(row(k))]),
            ...get(xr), ...set(xp), ...get(dyr), ...set(dyp),
            ...countTo(j, COLS, [
              ...get(xp), ...f32load, ...F32X4_SPLAT, ...set(xv),
              ...ks.flatMap((k) => [...get(row(k)), ...get(xv), ...get(dyp), ...vload(16 * k), ...F32X4_MUL, ...F32X4_ADD, ...set(row(k))]),
              ...addTo(xp, XCOL), ...addTo(dyp, OBYTES),
            ]),
            ...ks.flatMap((k) => [
              ...get(lo(k)), ...get(row(k)), ...PROMOTE_LOW, ...F64X2_ADD, ...set(lo(k)),
              ...get(hi(k)), ...get(row(k)), ...get(row(k)), ...HIGH_HALF, ...PROMOTE_LOW, ...F64X2_ADD, ...set(hi(k)),
            ]),
            ...addTo(xr, XROW), ...addTo(dyr, DYROW),
          ]),
          ...addTo(xb, XBATCH), ...addTo(dyb, DYBATCH),
        ]),
        // dw[c, ob..] = float32(lo ‖ hi)
        ...ks.flatMap((k) => [
          ...get(DW), ...get(c), ...get(OBYTES), I32_MUL, I32_ADD, ...get(ob), I32_ADD,
          ...get(lo(k)), ...DEMOTE_ZERO, ...get(hi(k)), ...DEMOTE_ZERO, ...JOIN_LOW_HALVES,
          ...vstore(16 * k),
        ]),
      ]),
    ]),
  ];
  return body([[13, I32], [3 * v + 1, V128]], code);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const vs = [1, 2, 3, 4];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(13).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec(vs.map(() => [0]))),
    ...section(7, vec(vs.map((v, k) => [...name(`filterTap${v}`), 0x00, k]))),
    ...section(10, vec(vs.map(filterTap))),
  ]);
}

/** The kernels bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const filterGradientKernels: (memory: WebAssembly.Memory) => FilterGradientKernels | undefined = memoryBoundKernels<FilterGradientKernels>(moduleBytes);

/** Exposed for tests: the module validates (a wrong opcode would otherwise silently disable the kernel). */
export const filterGradientModuleBytes = moduleBytes;
