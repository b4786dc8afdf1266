import { geometryBoundKernels } from './memory-bound-kernels.ts';
import { I32, V128, body, get, name, section, set, simd, uleb, vec } from './optimizer-kernels.ts';
import { F32X4_ADD, F32X4_MUL, I32_ADD, I32_MUL, ZERO, addTo, countTo, i32, shuffle, vload } from './wasm-code.ts';

/**
 * A 'valid', stride-1 convolution with ONE output channel, as a wasm SIMD module on tfjs-backend-wasm's heap:
 *
 *   out[b, y, x] = Σ_{r, s} Σ_c in[b, y + r, x + s, c] · w[r, s, c]      (NHWC, C a multiple of 4)
 *
 * It is the input gradient of a convolution whose input has one channel — the first layer of the digit CNNs
 * — which every adversarial-training step and every attack step computes (dx of conv2d(x: [b, h, w, 1])):
 * there `in` is the output gradient zero-padded to a full convolution and `w` the reversed filter. XNNPACK
 * runs that shape (a GEMM with N = 1) at ~4 GFLOP/s. Here each output position keeps one f32x4 sum per 4
 * channels in registers over every tap, the filter in locals for the whole call, and adds the lanes once.
 *
 * Generated per geometry — filter fh × fw, C channels, input row width W (the taps' byte offsets are the
 * loads' constant offsets) — and compiled once per geometry and memory.
 */
export interface SingleOutputConvKernel {
  /** Byte offsets of in (batch 0, row 0, column 0), w ([fh, fw, C]) and out ([batch, outRows, outCols]); counts; the byte size of one input image (H·W·C·4). */
  conv(input: number, w: number, out: number, batch: number, outRows: number, outCols: number, imageBytes: number): void;
  /**
   * Copies `batch` images of `srcRows` rows of `srcRowBytes` bytes from src into dst with zero margins: `topBytes`
   * and `bottomBytes` of zeros before and after each image's rows, `leftBytes` before each row and the rest of
   * `dstRowBytes` after it (bulk memory: the padding of the output gradient for `conv`).
   */
  pad(src: number, dst: number, batch: number, srcRows: number, srcRowBytes: number, dstRowBytes: number, topBytes: number, bottomBytes: number, leftBytes: number): void;
}

export interface SingleOutputConvGeometry {
  filterHeight: number;
  filterWidth: number;
  channels: number;
  inWidth: number;
}

/** Whether a geometry has a kernel: C a multiple of 4 up to 32, at most 25 taps, rows and tap offsets within the encoders' range. */
export function singleOutputConvSupported({ filterHeight, filterWidth, channels, inWidth }: SingleOutputConvGeometry): boolean {
  const taps = filterHeight * filterWidth;
  const rowBytes = inWidth * channels * 4;
  return channels % 4 === 0 && channels >= 4 && channels <= 32 && taps >= 1 && taps <= 25 && filterWidth <= inWidth && rowBytes < 8192;
}

const F32X4_EXTRACT_LANE0 = [...simd(0x1f), 0];
const f32store = [0x38, 2, 0];

function convBody({ filterHeight: fh, filterWidth: fw, channels: c, inWidth }: SingleOutputConvGeometry): number[] {
  const v = c / 4;
  const taps = fh * fw;
  // Params 0–6: in, w, out, batch, outRows, outCols, imageBytes.
  const [IN, W, OUT, BATCH, ROWS, COLS, IMAGE] = [0, 1, 2, 3, 4, 5, 6];
  // i32 locals 7–12: b, i, j, row pointer, position pointer, output pointer; 13: input row bytes; 14: position bytes.
  const [b, i, j, xr, xp, op, rowBytes, posBytes] = [7, 8, 9, 10, 11, 12, 13, 14];
  // v128 locals from 15: the weights (tap t, vector k), then one sum per vector, then a scratch.
  const wt = (t: number, k: number): number => 15 + t * v + k;
  const acc = (k: number): number => 15 + taps * v + k;
  const tmp = 15 + taps * v + v;
  const ks = Array.from({ length: v }, (_, k) => k);
  const ts = Array.from({ length: taps }, (_, t) => t);
  const tapOffset = (t: number, k: number): number => ((Math.floor(t / fw) * inWidth + (t % fw)) * c + 4 * k) * 4;
  // The sums of the vectors, pairwise, into acc(0).
  const reduce: number[] = [];
  for (let width = 1; width < v; width *= 2) {
    for (let k = 0; k + width < v; k += 2 * width) reduce.push(...get(acc(k)), ...get(acc(k + width)), ...F32X4_ADD, ...set(acc(k)));
  }
  const code = [
    ...i32(inWidth * c * 4), ...set(rowBytes),
    ...i32(c * 4), ...set(posBytes),
    ...ts.flatMap((t) => ks.flatMap((k) => [...get(W), ...vload((t * c + 4 * k) * 4), ...set(wt(t, k))])),
    ...get(OUT), ...set(op),
    ...countTo(b, BATCH, [
      ...get(IN), ...get(b), ...get(IMAGE), I32_MUL, I32_ADD, ...set(xr),
      ...countTo(i, ROWS, [
        ...get(xr), ...set(xp),
        ...countTo(j, COLS, [
          ...ks.flatMap((k) => [...ZERO, ...set(acc(k))]),
          ...ts.flatMap((t) => ks.flatMap((k) => [...get(acc(k)), ...get(xp), ...vload(tapOffset(t, k)), ...get(wt(t, k)), ...F32X4_MUL, ...F32X4_ADD, ...set(acc(k))])),
          ...reduce,
          // lanes: (a0 + a2, a1 + a3, …) then + the neighbour: lane 0 holds the total
          ...get(acc(0)), ...get(acc(0)), ...get(acc(0)), ...shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]), ...F32X4_ADD, ...set(tmp),
          ...get(op),
          ...get(tmp), ...get(tmp), ...get(tmp), ...shuffle([4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11]), ...F32X4_ADD, ...F32X4_EXTRACT_LANE0,
          ...f32store,
          ...addTo(xp, posBytes),
          ...i32(4), ...get(op), I32_ADD, ...set(op),
        ]),
        ...addTo(xr, rowBytes),
      ]),
    ]),
  ];
  return body([[8, I32], [taps * v + v + 1, V128]], code);
}

const MEMORY_COPY = [0xfc, 0x0a, 0x00, 0x00];
const MEMORY_FILL = [0xfc, 0x0b, 0x00];

/** pad(src, dst, batch, srcRows, srcRowBytes, dstRowBytes, topBytes, bottomBytes, leftBytes): see the interface. */
const PAD_BODY: number[] = (() => {
  const [SRC, DST, BATCH, ROWS, SRC_ROW, DST_ROW, TOP, BOTTOM, LEFT] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [b, i, d, sp, right] = [9, 10, 11, 12, 13];
  const fill = (at: number[], bytes: number[]): number[] => [...at, ...i32(0), ...bytes, ...MEMORY_FILL];
  return body([[5, I32]], [
    ...get(DST_ROW), ...get(SRC_ROW), 0x6b /* i32.sub */, ...get(LEFT), 0x6b, ...set(right),
    ...get(DST), ...set(d), ...get(SRC), ...set(sp),
    ...countTo(b, BATCH, [
      ...fill(get(d), get(TOP)), ...addTo(d, TOP),
      ...countTo(i, ROWS, [
        ...fill(get(d), get(LEFT)),
        ...get(d), ...get(LEFT), I32_ADD, ...get(sp), ...get(SRC_ROW), ...MEMORY_COPY,
        ...fill([...get(d), ...get(LEFT), I32_ADD, ...get(SRC_ROW), I32_ADD], get(right)),
        ...addTo(d, DST_ROW), ...addTo(sp, SRC_ROW),
      ]),
      ...fill(get(d), get(BOTTOM)), ...addTo(d, BOTTOM),
    ]),
  ]);
})();

/** The module's bytes for one geometry (exported for tests: it must validate). */
export function singleOutputConvModuleBytes(geometry: SingleOutputConvGeometry): Uint8Array<ArrayBuffer> {
  if (!singleOutputConvSupported(geometry)) throw new RangeError('single-output conv: unsupported geometry');
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(7).fill([I32])), 0], [0x60, ...vec(Array(9).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name('conv'), 0x00, 0], [...name('pad'), 0x00, 1]])),
    ...section(10, vec([convBody(geometry), PAD_BODY])),
  ]);
}

const bind = geometryBoundKernels<SingleOutputConvGeometry, SingleOutputConvKernel>((g) => `${g.filterHeight}x${g.filterWidth}x${g.channels}@${g.inWidth}`, singleOutputConvModuleBytes);

/** The kernel for `geometry` bound to `memory` (compiled once each), or undefined (unsupported geometry, no wasm SIMD). */
export function singleOutputConvKernel(memory: WebAssembly.Memory, geometry: SingleOutputConvGeometry): SingleOutputConvKernel | undefined {
  return singleOutputConvSupported(geometry) ? bind(memory, geometry) : undefined;
}
