import type { WeightArrays } from '@fedtune/shared';
import { DELTA_NORM_WASM_BASE64 } from './delta-norm-wasm-bytes.ts';

/** ‖weights − global‖² and whether every |w| is finite and within the bound (validate-fit-result.ts). */
export interface DeltaNormCheck {
  sumOfSquares: number;
  inRange: boolean;
}

interface DeltaNormExports {
  memory: WebAssembly.Memory;
  reset(): void;
  tensor(u: number, g: number, n: number): void;
  sum(k: number): number;
  largestBits(): number;
}

const PAGE = 65536;

/** undefined: not tried yet; null: WebAssembly or its SIMD is missing here (the caller uses the JS loop). */
let kernel: { exports: DeltaNormExports; f32: Float32Array; bits: Uint32Array; asFloat: Float32Array } | null | undefined;

function instance(): typeof kernel {
  if (kernel !== undefined) return kernel;
  try {
    const bytes = Uint8Array.from(atob(DELTA_NORM_WASM_BASE64), (ch) => ch.charCodeAt(0));
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as DeltaNormExports;
    const bits = new Uint32Array(1);
    kernel = { exports, f32: new Float32Array(exports.memory.buffer), bits, asFloat: new Float32Array(bits.buffer) };
  } catch {
    kernel = null;
  }
  return kernel;
}

/** Whether the wasm SIMD kernel runs here. */
export function wasmDeltaNormAvailable(): boolean {
  return instance() !== null;
}

/** Rounds a float32 count up to a whole 16-byte vector. */
const vectorFloats = (n: number) => (n + 3) & ~3;

/**
 * deltaNormChecked on the wasm SIMD kernel (delta-norm.wat): the same partial sums in the same order, so the
 * same bits. Each tensor of the update and of the global model is copied into the kernel's memory (two
 * memory copies: a fraction of the JS loop's cost), then read once. Returns undefined where the kernel cannot
 * run or the layouts differ (the caller then uses the JS loop, which gives the same answer).
 */
export function deltaNormCheckedWasm(weights: WeightArrays, global: WeightArrays, maxAbs: number): DeltaNormCheck | undefined {
  const k = instance();
  if (!k || weights.length !== global.length) return undefined;
  let largest = 0;
  for (let t = 0; t < weights.length; t++) {
    if (weights[t].length !== global[t].length) return undefined;
    largest = Math.max(largest, weights[t].length);
  }
  // One tensor at a time: the update's values at 0, the global model's after them.
  const need = 8 * vectorFloats(largest);
  const have = k.exports.memory.buffer.byteLength;
  if (need > have) {
    k.exports.memory.grow(Math.ceil((need - have) / PAGE));
    k.f32 = new Float32Array(k.exports.memory.buffer);
  }
  const { f32, exports } = k;
  exports.reset();
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    const n = w.length;
    const gAt = vectorFloats(n);
    f32.set(w, 0);
    f32.set(global[t], gAt);
    exports.tensor(0, 4 * gAt, n);
  }
  const sum = exports.sum(0) + exports.sum(1) + exports.sum(2) + exports.sum(3);
  // The largest |w| as a float32 (its bits with the sign cleared): NaN when a weight was NaN.
  k.bits[0] = exports.largestBits();
  const largestAbs = k.asFloat[0];
  return { sumOfSquares: sum, inRange: sum - sum === 0 && largestAbs <= maxAbs };
}
