import { F32, I32, V128, body, get, name, section, set, simd, vec } from './optimizer-kernels.ts';
import { BITSELECT, F32X4_ADD, F32X4_GT, I32_ADD, ZERO, stepTo, vload, vstore } from './wasm-code.ts';
import { memoryBoundKernels } from './memory-bound-kernels.ts';

const F32X4_LT = simd(0x43);
/** Pseudo-minimum and -maximum: b < a ? b : a and a < b ? b : a — tfjs-backend-wasm's Minimum and Maximum, NaN and ±0 alike. */
const F32X4_PMIN = simd(0xea);
const F32X4_PMAX = simd(0xeb);

/**
 * One signed-gradient step of an L∞ attack (PGD's, FGSM's) as one wasm SIMD pass on tfjs-backend-wasm's heap
 * (same memory import as optimizer-kernels.ts), all float32 arrays of one length (bytes a multiple of 16):
 *
 *   out[i] = min(max(x[i] + step · sign(g[i]), lo[i]), hi[i])
 *
 * sign is exact: +1 for g > 0, −1 for g < 0, 0 for ±0 and NaN. tfjs-backend-wasm 4.22's Sign returns 0 for
 * |g| < 2^-23 (1.19e-7) — an attack through it ignores every small gradient component, and a confident
 * model's input gradient is mostly small (tests/robustness/signed-step.test.ts). Every other operation is
 * the one the unfused `minimum(maximum(add(x, mul(sign(g), step)), lo), hi)` runs: the float32 sum of x and
 * ±step or 0, then Maximum and Minimum (pmax / pmin: the stock kernels' NaN and signed-zero rules).
 */
export interface SignedStepKernels {
  /** Byte offsets; `step` and `negStep` = −step as float32. */
  signedStep(x: number, g: number, lo: number, hi: number, out: number, totalBytes: number, step: number, negStep: number): void;
}

function signedStepBody(): number[] {
  const [X, G, LO, HI, OUT, TOTAL, STEP, NEG] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p, sixteen] = [8, 9];
  const [stepV, negV, gv, s] = [10, 11, 12, 13];
  const at = (base: number) => [...get(base), ...get(p), I32_ADD];
  const code = [
    0x41, 16, ...set(sixteen),
    ...get(STEP), ...simd(0x13), ...set(stepV),
    ...get(NEG), ...simd(0x13), ...set(negV),
    ...stepTo(p, TOTAL, sixteen, [
      ...at(G), ...vload(0), ...set(gv),
      // s = g > 0 ? step : 0; then g < 0 ? −step : s
      ...get(stepV), ...ZERO, ...get(gv), ...ZERO, ...F32X4_GT, ...BITSELECT, ...set(s),
      ...get(negV), ...get(s), ...get(gv), ...ZERO, ...F32X4_LT, ...BITSELECT, ...set(s),
      ...at(OUT),
      ...at(X), ...vload(0), ...get(s), ...F32X4_ADD,
      ...at(LO), ...vload(0), ...F32X4_PMAX,
      ...at(HI), ...vload(0), ...F32X4_PMIN,
      ...vstore(0),
    ]),
  ];
  return body([[2, I32], [4, V128]], code);
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([...Array(6).fill([I32]), [F32], [F32]]), 0]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('signedStep'), 0x00, 0]])),
    ...section(10, vec([signedStepBody()])),
  ]);
}

/** The kernel bound to `memory` (compiled once per memory), or undefined without wasm SIMD. */
export const signedStepKernels: (memory: WebAssembly.Memory) => SignedStepKernels | undefined = memoryBoundKernels<SignedStepKernels>(moduleBytes);

/** Exposed for tests: the module validates (a wrong opcode would otherwise silently disable the kernel). */
export const signedStepModuleBytes = moduleBytes;
