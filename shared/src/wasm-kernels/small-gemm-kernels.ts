import { memoryBoundKernels } from './memory-bound-kernels.ts';
import { F32, I32, V128, body, get, name, section, set, simd, vec } from './optimizer-kernels.ts';
import { F32X4_ADD, F32X4_MUL, F32X4_SPLAT, I32_ADD, I32_GE_S, I32_MUL, ZERO, addTo, countTo, f32load, i32, vload, vstore } from './wasm-code.ts';

/**
 * A dense product for small matrices as a wasm SIMD module on tfjs-backend-wasm's heap (the optimizer kernels'
 * memory import):
 *
 *   C[i, j] = act(Σ_k A(i, k) · B[k, j] + bias[j])      A(i, k) = A[i·rowStride + k·colStride]
 *
 * B and C row-major, A read through two strides (so Aᵀ costs nothing). Every sum runs k = 0, 1, …, K − 1 in
 * float32 (a multiply, then an add: no fused multiply-add), the bias is added to the finished sum and the
 * activation (none or ReLU: x < 0 ? 0 : x, the cpu backend's) applied last.
 *
 * Why: tfjs-backend-wasm hands every product to XNNPACK, which packs the right operand into a new operator
 * each time it meets a new tensor — and in training, in attacks and in the backward pass nearly every right
 * operand is new (updated weights, transposes, activations) — so a product of a few thousand
 * multiply-adds cost ~0.1–0.2 ms, the same as one of a million. Here: 16 columns (four f32x4 sums) of one
 * row at a time, each B row loaded once per 16 columns, then 4 columns, then single ones.
 */
export interface SmallGemmKernels {
  /** Byte offsets of A, C, B, bias; A's strides in bytes; counts M, K, N; hasBias and relu as 0/1. */
  gemm(a: number, aRowStride: number, aColStride: number, b: number, c: number, m: number, k: number, n: number, bias: number, hasBias: number, relu: number): void;
}

const F32X4_PMAX = simd(0xeb); // pmax(x, 0) = x < 0 ? 0 : x (NaN and −0 kept, as the cpu backend's ReLU)
const F32_ADD = 0x92;
const F32_MUL = 0x94;
const F32_LT = 0x5d;
const SELECT = 0x1b;
const F32_ZERO = [0x43, 0, 0, 0, 0];
const f32store = [0x38, 2, 0];
const ifThen = (code: number[]): number[] => [0x04, 0x40, ...code, 0x0b];
/** while (counter < bound) { code; counter += step } from the counter's current value (counter, bound, step locals). */
const stepFrom = (counter: number, bound: number, step: number, code: number[]): number[] => [
  0x02, 0x40, 0x03, 0x40,
  ...get(counter), ...get(bound), I32_GE_S, 0x0d, 1,
  ...code,
  ...addTo(counter, step),
  0x0c, 0, 0x0b, 0x0b,
];

function gemmBody(): number[] {
  const [A, SAR, SAC, B, C, M, K, N, BIAS, HASBIAS, RELU] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [i, k, jb, ap, bp, crow, arow, nb, n16, n4, c64, c16, c4] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const [av, acc0] = [24, 25]; // v128: av, then acc0..acc3 (25–28)
  const [s] = [29]; // f32
  const acc = (q: number): number => acc0 + q;
  /** Sums of `width` vectors over k for the columns at jb (jb the column's byte offset in a row). */
  const block = (width: number): number[] => {
    const qs = Array.from({ length: width }, (_, q) => q);
    return [
      ...qs.flatMap((q) => [...ZERO, ...set(acc(q))]),
      ...get(arow), ...set(ap),
      ...get(B), ...get(jb), I32_ADD, ...set(bp),
      ...countTo(k, K, [
        ...get(ap), ...f32load, ...F32X4_SPLAT, ...set(av),
        ...qs.flatMap((q) => [...get(acc(q)), ...get(av), ...get(bp), ...vload(16 * q), ...F32X4_MUL, ...F32X4_ADD, ...set(acc(q))]),
        ...addTo(ap, SAC),
        ...addTo(bp, nb),
      ]),
      ...get(HASBIAS), ...ifThen(qs.flatMap((q) => [...get(acc(q)), ...get(BIAS), ...get(jb), I32_ADD, ...vload(16 * q), ...F32X4_ADD, ...set(acc(q))])),
      ...get(RELU), ...ifThen(qs.flatMap((q) => [...get(acc(q)), ...ZERO, ...F32X4_PMAX, ...set(acc(q))])),
      ...qs.flatMap((q) => [...get(crow), ...get(jb), I32_ADD, ...get(acc(q)), ...vstore(16 * q)]),
    ];
  };
  const scalar = [
    ...F32_ZERO, ...set(s),
    ...get(arow), ...set(ap),
    ...get(B), ...get(jb), I32_ADD, ...set(bp),
    ...countTo(k, K, [
      ...get(s), ...get(ap), ...f32load, ...get(bp), ...f32load, F32_MUL, F32_ADD, ...set(s),
      ...addTo(ap, SAC),
      ...addTo(bp, nb),
    ]),
    ...get(HASBIAS), ...ifThen([...get(s), ...get(BIAS), ...get(jb), I32_ADD, ...f32load, F32_ADD, ...set(s)]),
    ...get(RELU), ...ifThen([...F32_ZERO, ...get(s), ...get(s), ...F32_ZERO, F32_LT, SELECT, ...set(s)]),
    ...get(crow), ...get(jb), I32_ADD, ...get(s), ...f32store,
  ];
  // nb = N·4 (a row's bytes); n16 = (N & ~15)·4 and n4 = (N & ~3)·4: where the 16-wide and 4-wide parts of a row end.
  const code = [
    ...get(N), ...i32(4), I32_MUL, ...set(nb),
    ...get(N), 0x41, 0x70 /* i32.const -16 */, 0x71 /* i32.and */, ...i32(4), I32_MUL, ...set(n16),
    ...get(N), 0x41, 0x7c /* i32.const -4 */, 0x71, ...i32(4), I32_MUL, ...set(n4),
    ...i32(64), ...set(c64), ...i32(16), ...set(c16), ...i32(4), ...set(c4),
    ...get(A), ...set(arow),
    ...get(C), ...set(crow),
    ...countTo(i, M, [
      ...i32(0), ...set(jb),
      ...stepFrom(jb, n16, c64, block(4)),
      ...stepFrom(jb, n4, c16, block(1)),
      ...stepFrom(jb, nb, c4, scalar),
      ...addTo(arow, SAR),
      ...addTo(crow, nb),
    ]),
  ];
  return body([[13, I32], [5, V128], [1, F32]], code);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(Array(11).fill([I32])), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('gemm'), 0x00, 0]])),
    ...section(10, vec([gemmBody()])),
  ]);
}

/** The kernel bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const smallGemmKernels: (memory: WebAssembly.Memory) => SmallGemmKernels | undefined = memoryBoundKernels<SmallGemmKernels>(moduleBytes);

/** Exposed for tests: the module validates (a wrong opcode would otherwise silently disable the kernel). */
export const smallGemmModuleBytes = moduleBytes;
