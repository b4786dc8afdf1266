import type { SumKernel } from './sum-kernel.ts';
import { STREAMING_SUM_WASM_BASE64 } from './streaming-sum-wasm-bytes.ts';

/** Values copied into wasm memory per call (16 KB: stays in L1 while the kernel reads it back). */
const STAGE_VALUES = 4096;
const STAGE_BYTES = STAGE_VALUES * 4;
const PAGE = 65536;

interface SumExports {
  memory: WebAssembly.Memory;
  add(src: number, hi: number, lo: number, vecs: number, ns: number, bound: number): number;
  mean(hi: number, lo: number, out: number, pairs: number, scale: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel, or null where WebAssembly or its SIMD is missing. Synchronous (the module is 409 bytes). */
function sumModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Uint8Array.from(atob(STREAMING_SUM_WASM_BASE64), (ch) => ch.charCodeAt(0));
    compiled = new WebAssembly.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

/** Whether the wasm SIMD kernel can run here. */
export function wasmSumAvailable(): boolean {
  return typeof WebAssembly === 'object' && sumModule() !== null;
}

/** The wasm SIMD kernel (streaming-sum.wat) with its own memory: a staging area, the hi and lo accumulators, room for the means. */
export function createWasmSumKernel(capacity: number): SumKernel {
  const module = sumModule();
  if (!module) throw new Error('wasm SIMD is not available');
  const exports = new WebAssembly.Instance(module).exports as unknown as SumExports;
  const bytes = STAGE_BYTES + 20 * capacity;
  const pages = Math.ceil(bytes / PAGE);
  exports.memory.grow(pages - exports.memory.buffer.byteLength / PAGE);
  const buffer = exports.memory.buffer;
  const stage = new Float32Array(buffer, 0, STAGE_VALUES);
  const words = new Int32Array(buffer, STAGE_BYTES, 4 * capacity);
  const loBytes = STAGE_BYTES + 8 * capacity;
  const outBytes = STAGE_BYTES + 16 * capacity;
  return {
    kind: 'wasm',
    words,
    add(values, start, ns, bound) {
      let bad = 0;
      for (let off = 0; off < values.length; off += STAGE_VALUES) {
        const piece = values.subarray(off, off + STAGE_VALUES);
        stage.set(piece);
        const vecs = (piece.length + 3) >> 2;
        // The last vector's lanes past the piece are zeros: they add 0 to the next accumulators.
        stage.fill(0, piece.length, vecs * 4);
        const at = 8 * (start + off);
        bad |= exports.add(0, STAGE_BYTES + at, loBytes + at, vecs, ns, bound);
      }
      return bad !== 0;
    },
    mean(start, count, scale) {
      // An odd count's last pair writes one mean past the tensor, into the next one's slot or the padding.
      exports.mean(STAGE_BYTES + 8 * start, loBytes + 8 * start, outBytes + 4 * start, (count + 1) >> 1, scale);
      return new Float32Array(buffer, outBytes + 4 * start, count).slice();
    },
  };
}
