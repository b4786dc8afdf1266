import { ADD, F32, I32, V128, body, get, load, section, set, simd, splat, store, vec, name } from './optimizer-kernels.ts';
import { memoryBoundKernels } from './memory-bound-kernels.ts';

/**
 * The bias gradient and the bias add of a training step as wasm SIMD kernels on tfjs-backend-wasm's heap
 * (same memory import as optimizer-kernels.ts): x is a [rows, cols] float32 matrix (an NHWC activation with
 * rows = b·h·w, cols = channels), cols a multiple of 4. Offsets and sizes in bytes.
 */
export interface BiasKernels {
  /** out[c] = Σ_r x[r, c], summed row after row in float32 (the stock Sum's order after its transpose). */
  sumRows(x: number, out: number, rowBytes: number, totalBytes: number): void;
  /** out[r, c] = x[r, c] + v[c]. */
  addRow(x: number, v: number, out: number, rowBytes: number, totalBytes: number): void;
}

/** for (i = start; i < bound; i += step) body, with i, bound and step locals. */
const forStep = (i: number, bound: number, step: number, code: number[]): number[] => [
  0x02, 0x40, 0x03, 0x40,
  ...get(i), ...get(bound), 0x4f, 0x0d, 1,
  ...code,
  ...get(i), ...get(step), 0x6a, ...set(i),
  0x0c, 0, 0x0b, 0x0b,
];

function moduleBytes(): Uint8Array<ArrayBuffer> {
  // sumRows(x, out, rowBytes, totalBytes). Locals: c = 4, p = 5, acc = 6, sixteen = 7.
  const sumRows = body([[2, I32], [1, V128], [1, I32]], [
    0x41, 16, ...set(7),
    ...forStep(4, 2, 7, [
      0x43, 0, 0, 0, 0, ...splat, ...set(6), // acc = 0
      ...get(4), ...set(5),
      ...forStep(5, 3, 2, [...get(6), ...load(0, 5), ...ADD, ...set(6)]),
      ...store(1, 4, get(6)),
    ]),
  ]);
  // addRow(x, v, out, rowBytes, totalBytes). Locals: r = 5, c = 6, p = 7, sixteen = 8.
  const addRow = body([[4, I32]], [
    0x41, 16, ...set(8),
    ...forStep(5, 4, 3, [
      0x41, 0, ...set(6),
      ...forStep(6, 3, 8, [
        ...get(5), ...get(6), 0x6a, ...set(7),
        ...store(2, 7, [...load(0, 7), ...load(1, 6), ...ADD]),
      ]),
    ]),
  ]);
  void F32;
  void simd;
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32]]), 0], [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name('sumRows'), 0x00, 0], [...name('addRow'), 0x00, 1]])),
    ...section(10, vec([sumRows, addRow])),
  ]);
}

/** The kernels bound to `memory`, or undefined without wasm SIMD. */
export const biasKernels: (memory: WebAssembly.Memory) => BiasKernels | undefined = memoryBoundKernels<BiasKernels>(moduleBytes);
