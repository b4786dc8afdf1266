import { I32, V128, body, get, name, section, set, vec } from './optimizer-kernels.ts';
import { BITSELECT, F32X4_GT, F32X4_SPLAT, I32_ADD, I32X4_EQ, I32X4_SPLAT, NEG_INFINITY_F32, V128_AND, V128_ANDNOT, V128_OR, addTo, countTo, i32, stepTo, vload, vstore } from './wasm-code.ts';
import { memoryBoundKernels } from './memory-bound-kernels.ts';

/**
 * MaxPoolGrad for non-overlapping, unclipped windows as a wasm SIMD module on tfjs-backend-wasm's heap (same
 * memory import as optimizer-kernels.ts), four channels per f32x4: each window's elements are visited in
 * row-major order and an element becomes the window's maximum only if it is strictly greater (`f32x4.gt`, so
 * the first maximum wins, NaN never wins, and a window of NaN or −Infinity gets no gradient) — the cpu
 * backend's rule. The output gradient is then written to the winner and zero to the other elements of the
 * window (a mask, no branch). Elements outside every window are left as they are: the caller zeroes dx first.
 */
export interface MaxPoolGradKernels {
  /**
   * Byte offsets of x, dy, dx (dx laid out as x). Counts: batch, out rows, out cols, window rows, window
   * cols, C·4 (bytes of one pixel, a multiple of 16). Byte strides of x: per batch, per output row
   * (sh·W·C·4), per output column (sw·C·4), per input row (W·C·4).
   */
  maxPoolGrad(x: number, dy: number, dx: number, batch: number, oh: number, ow: number, fh: number, fw: number, cBytes: number, xBatch: number, xOutRow: number, xOutCol: number, xRow: number): void;
  /**
   * The same for 2×2 windows at stride 2 (every CNN's pooling), the window unrolled: byte offsets of x, dy,
   * dx; batch, out rows, out cols, C·4; byte strides of x per batch and per input row (W·C·4). Writes every
   * element of every window.
   */
  maxPoolGrad2x2(x: number, dy: number, dx: number, batch: number, oh: number, ow: number, cBytes: number, xBatch: number, xRow: number): void;
}

/**
 * The loop nest both kernels share: dxOff = dx − x, dyp = dy, then for every image, output row, output column
 * and four channels (cq, a byte offset within the pixel) `code` — with xc the window's top-left pixel in x —
 * stepping xc by `outCol` and the row by `outRow` (locals), the image by `batchBytes` (a param).
 */
function perWindowQuad(l: { x: number; dy: number; dx: number; batch: number; oh: number; ow: number; cBytes: number; batchBytes: number; outRow: number; outCol: number; b: number; yr: number; yc: number; cq: number; xb: number; xr: number; xc: number; dyp: number; dxOff: number; sixteen: number }, code: number[]): number[] {
  return [
    ...get(l.dx), ...get(l.x), 0x6b /* i32.sub */, ...set(l.dxOff),
    ...get(l.dy), ...set(l.dyp),
    ...get(l.x), ...set(l.xb),
    ...countTo(l.b, l.batch, [
      ...get(l.xb), ...set(l.xr),
      ...countTo(l.yr, l.oh, [
        ...get(l.xr), ...set(l.xc),
        ...countTo(l.yc, l.ow, [...stepTo(l.cq, l.cBytes, l.sixteen, code), ...addTo(l.xc, l.outCol)]),
        ...addTo(l.xr, l.outRow),
      ]),
      ...addTo(l.xb, l.batchBytes),
    ]),
  ];
}

function maxPoolGradBody(): number[] {
  const [X, DY, DX, BATCH, OH, OW, FH, FW, CBYTES, XBATCH, XOUTROW, XOUTCOL, XROW] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const [b, yr, yc, cq, r, s, k, xb, xr, xc, p, rowp, dyp, dxOff, sixteen] = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
  const [best, idx, val, gt, dyv] = [28, 29, 30, 31, 32];
  /** Visits the window's elements (p = element address, k = its row-major index) in order. */
  const window = (code: number[]): number[] => [
    ...i32(0), ...set(k),
    ...get(xc), ...get(cq), I32_ADD, ...set(rowp),
    ...countTo(r, FH, [
      ...get(rowp), ...set(p),
      ...countTo(s, FW, [...code, ...get(k), ...i32(1), I32_ADD, ...set(k), ...addTo(p, CBYTES)]),
      ...addTo(rowp, XROW),
    ]),
  ];
  const code = [
    ...i32(16), ...set(sixteen),
    ...perWindowQuad({ x: X, dy: DY, dx: DX, batch: BATCH, oh: OH, ow: OW, cBytes: CBYTES, batchBytes: XBATCH, outRow: XOUTROW, outCol: XOUTCOL, b, yr, yc, cq, xb, xr, xc, dyp, dxOff, sixteen }, [
      ...NEG_INFINITY_F32, ...F32X4_SPLAT, ...set(best),
      0x41, 0x7f /* i32.const -1 */, ...I32X4_SPLAT, ...set(idx),
      ...window([
        ...get(p), ...vload(0), ...set(val),
        ...get(val), ...get(best), ...F32X4_GT, ...set(gt),
        ...get(val), ...get(best), ...get(gt), ...BITSELECT, ...set(best),
        ...get(k), ...I32X4_SPLAT, ...get(idx), ...get(gt), ...BITSELECT, ...set(idx),
      ]),
      ...get(dyp), ...vload(0), ...set(dyv),
      ...addTo(dyp, sixteen),
      ...window([
        ...get(p), ...get(dxOff), I32_ADD,
        ...get(dyv), ...get(idx), ...get(k), ...I32X4_SPLAT, ...I32X4_EQ, ...V128_AND,
        ...vstore(0),
      ]),
    ]),
  ];
  return body([[15, I32], [5, V128]], code);
}

/**
 * maxPoolGrad2x2: per four channels, the window's elements a (top left), b (top right), c, d in row-major order;
 * g_k = v_k > max(earlier elements, −Infinity) is "v_k is the maximum so far", and the winner is the last k with
 * g_k (the first maximum: strict >, so a later tie never wins; NaN never compares greater). Each element gets
 * dy masked by "g_k and no later g": d ← g_d, c ← g_c ∧ ¬g_d, b ← g_b ∧ ¬(g_c ∨ g_d), a ← g_a ∧ ¬(g_b ∨ g_c ∨ g_d).
 */
function maxPoolGrad2x2Body(): number[] {
  const [X, DY, DX, BATCH, OH, OW, CBYTES, XBATCH, XROW] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [b, yr, yc, cq, xb, xr, xc, p, dyp, dxOff, sixteen, pixel2, row2] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const [va, vb, vc, vd, best, ga, gb, gc, gd, dyv, later] = [22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];
  /** v128.load at p + the sum of the given locals. */
  const at = (...offsets: number[]): number[] => [...get(p), ...offsets.flatMap((o) => [...get(o), I32_ADD])];
  /** g = v > best; best = g ? v : best (the last element skips the update). */
  const step = (v: number, g: number, update: boolean): number[] => [
    ...get(v), ...get(best), ...F32X4_GT, ...set(g),
    ...(update ? [...get(v), ...get(best), ...get(g), ...BITSELECT, ...set(best)] : []),
  ];
  /** dx at p + offsets ← dy ∧ g ∧ ¬later; later ← later ∨ g. */
  const route = (g: number, offsets: number[], first: boolean): number[] => [
    ...at(dxOff, ...offsets),
    ...get(dyv), ...get(g), ...(first ? [] : [...get(later), ...V128_ANDNOT]), ...V128_AND,
    ...vstore(0),
    ...(first ? [...get(g), ...set(later)] : [...get(later), ...get(g), ...V128_OR, ...set(later)]),
  ];
  const code = [
    ...i32(16), ...set(sixteen),
    ...get(CBYTES), ...get(CBYTES), I32_ADD, ...set(pixel2),
    ...get(XROW), ...get(XROW), I32_ADD, ...set(row2),
    ...perWindowQuad({ x: X, dy: DY, dx: DX, batch: BATCH, oh: OH, ow: OW, cBytes: CBYTES, batchBytes: XBATCH, outRow: row2, outCol: pixel2, b, yr, yc, cq, xb, xr, xc, dyp, dxOff, sixteen }, [
      ...get(xc), ...get(cq), I32_ADD, ...set(p),
      ...at(), ...vload(0), ...set(va),
      ...at(CBYTES), ...vload(0), ...set(vb),
      ...at(XROW), ...vload(0), ...set(vc),
      ...at(XROW, CBYTES), ...vload(0), ...set(vd),
      ...NEG_INFINITY_F32, ...F32X4_SPLAT, ...set(best),
      ...step(va, ga, true), ...step(vb, gb, true), ...step(vc, gc, true), ...step(vd, gd, false),
      ...get(dyp), ...vload(0), ...set(dyv),
      ...addTo(dyp, sixteen),
      ...route(gd, [XROW, CBYTES], true),
      ...route(gc, [XROW], false),
      ...route(gb, [CBYTES], false),
      ...route(ga, [], false),
    ]),
  ];
  return body([[13, I32], [11, V128]], code);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(13).fill([I32])), 0], [0x60, ...vec(Array(9).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name('maxPoolGrad'), 0x00, 0], [...name('maxPoolGrad2x2'), 0x00, 1]])),
    ...section(10, vec([maxPoolGradBody(), maxPoolGrad2x2Body()])),
  ]);
}

/** The kernel bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const maxPoolGradKernels: (memory: WebAssembly.Memory) => MaxPoolGradKernels | undefined = memoryBoundKernels<MaxPoolGradKernels>(moduleBytes);

/** Exposed for tests: the module validates (a wrong opcode would otherwise silently disable the kernel). */
export const maxPoolGradModuleBytes = moduleBytes;
