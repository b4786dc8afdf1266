import { geometryBoundKernels } from './memory-bound-kernels.ts';
import { I32, V128, body, get, name, section, set, simd, uleb, vec } from './optimizer-kernels.ts';
import { F32X4_ADD, F32X4_MUL, F32X4_SPLAT, I32_ADD, I32_MUL, ZERO, addTo, countTo, i32, vload, vstore } from './wasm-code.ts';

/**
 * relu?(conv2d(x, w) + b) for a one-channel NHWC float32 input — the first layer of the digit CNNs — as a wasm
 * SIMD module on tfjs-backend-wasm's heap, 'valid' padding, stride 1, 4·V output channels (V = 1…4). With one
 * input channel XNNPACK's convolution runs at a third of its usual rate (a 3×3×1 filter is a GEMM with K = 9);
 * here each output position keeps its 4·V sums in registers, every filter tap and the bias held in locals
 * for the whole call: per tap one scalar load and splat, V multiplies and V adds.
 *
 *   out[b, i, j, o] = act(bias[o] + Σ_{r, s} x[b, i + r, j + s] · w[r, s, 0, o])   (taps in order r, then s)
 *
 * The module is generated for one geometry — filter fh × fw, O output channels, input row width W (the taps'
 * byte offsets are the loads' constant offsets) — and compiled once per geometry and memory.
 */
export interface SingleChannelConvKernel {
  /**
   * Byte offsets of x (batch 0, row 0, column 0), w ([fh, fw, 1, O]), bias ([O]) and out ([batch, outRows,
   * outCols, O]); counts batch, outRows, outCols; the byte size of one input image (H·W·4); relu: 1 applies
   * max(·, 0) (NaN stays NaN), 0 none.
   */
  conv(x: number, w: number, bias: number, out: number, batch: number, outRows: number, outCols: number, imageBytes: number, relu: number): void;
}

/** The geometry one generated module serves. */
export interface SingleChannelConvGeometry {
  filterHeight: number;
  filterWidth: number;
  outChannels: number;
  inWidth: number;
}

const F32X4_MAX = simd(0xe9);
const f32loadAt = (offset: number): number[] => [0x2a, 2, ...uleb(offset)];

/** Whether a geometry has a kernel: O a multiple of 4 up to 16, at most 49 taps (the locals of every tap's weights), input rows under 8 KB (one i32.const). */
export function singleChannelConvSupported({ filterHeight, filterWidth, outChannels, inWidth }: SingleChannelConvGeometry): boolean {
  const taps = filterHeight * filterWidth;
  return outChannels % 4 === 0 && outChannels >= 4 && outChannels <= 16 && taps >= 1 && taps <= 49 && filterWidth <= inWidth && inWidth * 4 < 8192;
}

function convBody({ filterHeight: fh, filterWidth: fw, outChannels: o, inWidth }: SingleChannelConvGeometry): number[] {
  const v = o / 4;
  const taps = fh * fw;
  // Params 0–8: x, w, bias, out, batch, outRows, outCols, imageBytes, relu.
  const [X, W, BIAS, OUT, BATCH, ROWS, COLS, IMAGE, RELU] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // i32 locals 9–14: b, i, j, row pointer, position pointer, output pointer; then i32 15: input row bytes, 16: position bytes.
  const [b, i, j, xr, xp, op, rowBytes, posBytes] = [9, 10, 11, 12, 13, 14, 15, 16];
  // v128 locals from 17: the weights (tap t, vector k), the bias, the sums, the splat input, zero.
  const wt = (t: number, k: number): number => 17 + t * v + k;
  const bias = (k: number): number => 17 + taps * v + k;
  const acc = (k: number): number => 17 + taps * v + v + k;
  const xs = 17 + taps * v + 2 * v;
  const zero = xs + 1;
  const ks = Array.from({ length: v }, (_, k) => k);
  const ts = Array.from({ length: taps }, (_, t) => t);
  const code = [
    ...i32(inWidth * 4), ...set(rowBytes),
    ...i32(4 * o), ...set(posBytes),
    ...ZERO, ...set(zero),
    ...ts.flatMap((t) => ks.flatMap((k) => [...get(W), ...vload((t * o + 4 * k) * 4), ...set(wt(t, k))])),
    ...ks.flatMap((k) => [...get(BIAS), ...vload(16 * k), ...set(bias(k))]),
    ...get(OUT), ...set(op),
    ...countTo(b, BATCH, [
      ...get(X), ...get(b), ...get(IMAGE), I32_MUL, I32_ADD, ...set(xr),
      ...countTo(i, ROWS, [
        ...get(xr), ...set(xp),
        ...countTo(j, COLS, [
          ...ks.flatMap((k) => [...get(bias(k)), ...set(acc(k))]),
          ...ts.flatMap((t) => {
            const r = Math.floor(t / fw);
            const s = t % fw;
            return [
              ...get(xp), ...f32loadAt((r * inWidth + s) * 4), ...F32X4_SPLAT, ...set(xs),
              ...ks.flatMap((k) => [...get(acc(k)), ...get(xs), ...get(wt(t, k)), ...F32X4_MUL, ...F32X4_ADD, ...set(acc(k))]),
            ];
          }),
          // relu: max(sum, 0) (f32x4.max keeps a NaN), else the sum.
          ...ks.flatMap((k) => [
            ...get(op),
            ...get(acc(k)), ...get(zero), ...F32X4_MAX, ...get(acc(k)), ...get(RELU), 0x1c, 1, V128 /* select (v128) */,
            ...vstore(16 * k),
          ]),
          ...i32(4), ...get(xp), I32_ADD, ...set(xp),
          ...addTo(op, posBytes),
        ]),
        ...addTo(xr, rowBytes),
      ]),
    ]),
  ];
  return body([[8, I32], [taps * v + 2 * v + 2, V128]], code);
}

/** The module's bytes for one geometry (exported for tests: it must validate). */
export function singleChannelConvModuleBytes(geometry: SingleChannelConvGeometry): Uint8Array<ArrayBuffer> {
  if (!singleChannelConvSupported(geometry)) throw new RangeError('single-channel conv: unsupported geometry');
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(9).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('conv'), 0x00, 0]])),
    ...section(10, vec([convBody(geometry)])),
  ]);
}

const bind = geometryBoundKernels<SingleChannelConvGeometry, SingleChannelConvKernel>((g) => `${g.filterHeight}x${g.filterWidth}x${g.outChannels}@${g.inWidth}`, singleChannelConvModuleBytes);

/** The kernel for `geometry` bound to `memory` (compiled once each), or undefined (unsupported geometry, no wasm SIMD). */
export function singleChannelConvKernel(memory: WebAssembly.Memory, geometry: SingleChannelConvGeometry): SingleChannelConvKernel | undefined {
  return singleChannelConvSupported(geometry) ? bind(memory, geometry) : undefined;
}
