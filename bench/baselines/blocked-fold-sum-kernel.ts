/**
 * The previous wasm sum kernel (the blocked fold, commit 7fd16b5's streaming-sum-wasm.ts, with its module
 * blocked-fold-sum.wat frozen in blocked-fold-sum-wasm-bytes.ts), kept only as bench/aggregation.ts's
 * "before": updates staged in up to 16 slots and folded in blocks, the carry done in every fold.
 */
import { SMALL_TERM_EXPONENT, type SumKernel } from '../../shared/src/strategies/streaming-sum/sum-kernel.ts';
import { STREAMING_SUM_WASM_BASE64 } from './blocked-fold-sum-wasm-bytes.ts';

/** Updates folded in one pass over the sums (streaming-sum.wat's `fold`): the sums' memory traffic is divided by this. */
export const FOLD_BLOCK = 16;
/** At most this many bytes of staged updates per sum: a larger model folds in smaller blocks (down to 1). */
export const STAGING_BUDGET_BYTES = 64 * 2 ** 20;
const PAGE = 65536;

interface SumExports {
  memory: WebAssembly.Memory;
  check(src: number, count: number): number;
  fold(table: number, small: number, k: number, hi: number, lo: number, vecs: number): void;
  mean(hi: number, lo: number, out: number, pairs: number, scale: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel, or null where WebAssembly or its SIMD is missing. Synchronous (the module is 1.3 KB). */
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

/** How many updates one fold takes for sums of `capacity` parameters: FOLD_BLOCK, fewer when their slots would pass the budget. */
export function foldBlockFor(capacity: number, budgetBytes = STAGING_BUDGET_BYTES): number {
  return Math.max(1, Math.min(FOLD_BLOCK, Math.floor(budgetBytes / (4 * capacity))));
}

/**
 * The wasm SIMD kernel (streaming-sum.wat) with its own memory: the fold's table, the hi and lo sums, room
 * for the means, then (from the first update staged: a sum only merged into needs none) one slot — a
 * float32 per parameter — per update of a block. Parameter i sits at the same index in a slot as in the
 * sums; the padding past the last parameter stays 0 in every slot.
 */
export function createBlockedFoldSumKernel(capacity: number, block = foldBlockFor(capacity)): SumKernel {
  const module = sumModule();
  if (!module) throw new Error('wasm SIMD is not available');
  const exports = new WebAssembly.Instance(module).exports as unknown as SumExports;
  const tableBytes = 16 * block;
  const hiBytes = tableBytes;
  const loBytes = hiBytes + 8 * capacity;
  const outBytes = loBytes + 8 * capacity;
  const slotBytes = outBytes + 4 * capacity;
  const slotStride = 4 * capacity;
  const grow = (bytes: number) => exports.memory.grow(Math.ceil(bytes / PAGE) - exports.memory.buffer.byteLength / PAGE);
  grow(slotBytes);
  let words = new Int32Array(exports.memory.buffer, hiBytes, 4 * capacity);
  let slots: Float32Array[] = [];
  const vecs = capacity >> 2;
  /** Committed updates waiting for the fold: their slot and weight, small ones (every |w·ns| ≤ 2^7) apart. */
  const small: Array<{ slot: number; ns: number }> = [];
  const big: Array<{ slot: number; ns: number }> = [];
  const pending = () => small.length + big.length;

  /** The slot the next update is staged in (the slots are made, and the views remade, on first use). */
  const nextSlot = (): Float32Array => {
    if (slots.length === 0) {
      grow(slotBytes + block * slotStride);
      const buffer = exports.memory.buffer;
      words = new Int32Array(buffer, hiBytes, 4 * capacity);
      slots = Array.from({ length: block }, (_, j) => new Float32Array(buffer, slotBytes + j * slotStride, capacity));
    }
    return slots[pending()];
  };

  const flush = () => {
    const k = pending();
    if (k === 0) return;
    const table = new DataView(exports.memory.buffer, 0, tableBytes);
    [...small, ...big].forEach(({ slot, ns }, e) => {
      table.setFloat64(16 * e, ns, true);
      table.setInt32(16 * e + 8, slotBytes + slot * slotStride, true);
    });
    exports.fold(0, small.length, k, hiBytes, loBytes, vecs);
    small.length = 0;
    big.length = 0;
  };

  return {
    kind: 'wasm',
    get words() {
      return words;
    },
    stagingArea() {
      return nextSlot();
    },
    stage(values, start) {
      const slot = nextSlot();
      // Values decoded straight into the slot (stagingArea) are in place already.
      if (values.buffer !== slot.buffer || values.byteOffset !== slot.byteOffset + 4 * start) slot.set(values, start);
      return exports.check(slot.byteOffset + 4 * start, values.length);
    },
    commit(ns, maxAbs) {
      const entry = { slot: pending(), ns };
      (maxAbs * ns <= 2 ** SMALL_TERM_EXPONENT ? small : big).push(entry);
      if (pending() === block) flush();
    },
    discard() {
      // The next update is staged over this one.
    },
    reset() {
      small.length = 0;
      big.length = 0;
      words.fill(0);
    },
    flush,
    mean(start, count, scale) {
      // An odd count's last pair writes one mean past the tensor, into the next one's slot or the padding.
      exports.mean(hiBytes + 8 * start, loBytes + 8 * start, outBytes + 4 * start, (count + 1) >> 1, scale);
      return new Float32Array(exports.memory.buffer, outBytes + 4 * start, count).slice();
    },
  };
}
