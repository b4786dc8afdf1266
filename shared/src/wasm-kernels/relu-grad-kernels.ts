import { I32, V128, body, get, name, section, set, vec } from './optimizer-kernels.ts';
import { F32X4_ADD, F32X4_GT, I32_ADD, V128_AND, ZERO, addTo, i32, stepTo, vload, vstore } from './wasm-code.ts';
import { memoryBoundKernels } from './memory-bound-kernels.ts';

/**
 * The backward pass of `relu(conv + bias)` up to the convolution, as one wasm SIMD pass on tfjs-backend-wasm's
 * heap (same memory import as optimizer-kernels.ts): with y the forward output (after the ReLU) and dy its
 * gradient, both [rows, cols] float32 (rows = b·h·w, cols = channels, a multiple of 4),
 *
 *   dz[r, c] = y[r, c] > 0 ? dy[r, c] : 0      (ReLU's gradient: tfjs's dy · step(z), as a mask)
 *   db[c]    = Σ_r dz[r, c]                     (the bias gradient, row after row in float32)
 *
 * db's summation order is the Sum kernel's (bias-kernels.ts), so it equals tf.sum(dz, [0, 1, 2]) there bit
 * for bit. Replaces the Step, Cast, Multiply and Sum kernels (and their tape entries) of the unfused backward.
 */
export interface ReluGradKernels {
  /** Byte offsets; rowBytes = cols·4, totalBytes = rows·cols·4. db is overwritten. */
  reluGradBiasSum(dy: number, y: number, dz: number, db: number, rowBytes: number, totalBytes: number): void;
}

function reluGradBiasSumBody(): number[] {
  const [DY, Y, DZ, DB, ROWBYTES, TOTAL] = [0, 1, 2, 3, 4, 5];
  const [row, c, p, sixteen] = [6, 7, 8, 9];
  const masked = 10;
  const code = [
    ...i32(16), ...set(sixteen),
    ...stepTo(c, ROWBYTES, sixteen, [...get(DB), ...get(c), I32_ADD, ...ZERO, ...vstore(0)]),
    ...stepTo(row, TOTAL, ROWBYTES, [
      ...stepTo(c, ROWBYTES, sixteen, [
        ...get(row), ...get(c), I32_ADD, ...set(p),
        // masked = dy & (y > 0)
        ...get(DY), ...get(p), I32_ADD, ...vload(0),
        ...get(Y), ...get(p), I32_ADD, ...vload(0), ...ZERO, ...F32X4_GT,
        ...V128_AND, ...set(masked),
        ...get(DZ), ...get(p), I32_ADD, ...get(masked), ...vstore(0),
        // db[c] += masked
        ...get(DB), ...get(c), I32_ADD,
        ...get(DB), ...get(c), I32_ADD, ...vload(0), ...get(masked), ...F32X4_ADD,
        ...vstore(0),
      ]),
    ]),
  ];
  void addTo;
  return body([[4, I32], [1, V128]], code);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(6).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('reluGradBiasSum'), 0x00, 0]])),
    ...section(10, vec([reluGradBiasSumBody()])),
  ]);
}

/** The kernel bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const reluGradKernels: (memory: WebAssembly.Memory) => ReluGradKernels | undefined = memoryBoundKernels<ReluGradKernels>(moduleBytes);

/** Exposed for tests: the module validates (a wrong opcode would otherwise silently disable the kernel). */
export const reluGradModuleBytes = moduleBytes;
