import { SMALL_TERM_EXPONENT, type SumKernel } from './sum-kernel.ts';
import { STREAMING_SUM_WASM_BASE64 } from './streaming-sum-wasm-bytes.ts';

/**
 * How far the adds may move a lo sum from canonical (0 ≤ lo < 2^43) before the kernel carries: it stays
 * inside i64 (below 2^43 + 2^62). An update moves it by at most max|w·ns|·2^43 + 1 ≤ 2^50 + 1 (a small
 * update: its whole terms go to lo) or 2^42 (a general one), so the kernel carries when the next update could
 * pass this — after 4,095 small updates at the least — and before anything reads the sums.
 */
export const LO_BUDGET = 2 ** 62;
const PAGE = 65536;

interface SumExports {
  memory: WebAssembly.Memory;
  check(src: number, count: number): number;
  add_small(src: number, lo: number, vecs: number, ns: number): void;
  add_general(src: number, hi: number, lo: number, vecs: number, ns: number): void;
  carry(hi: number, lo: number, pairs: number, updates: number, general: number): void;
  mean(hi: number, lo: number, out: number, pairs: number, scale: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel, or null where WebAssembly or its SIMD is missing. Synchronous (the module is 2.2 KB). */
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

/**
 * The wasm SIMD kernel (streaming-sum.wat) with its own memory: the hi and lo sums, room for the means, then
 * (from the first update staged: a sum only merged into needs none) one staging slot, a float32 per
 * parameter. Parameter i sits at the same index in the slot as in the sums; the padding past the last
 * parameter stays 0. Each committed update is added at once, in one pass over the slot and the sums, so
 * the slot — the only copy of the update — stays in the cache from its decoding to its sum. `carryEvery`
 * (tests only) also carries after that many updates.
 */
export function createWasmSumKernel(capacity: number, carryEvery = Number.POSITIVE_INFINITY): SumKernel {
  if (!(carryEvery >= 1) || !(Number.isInteger(carryEvery) || carryEvery === Number.POSITIVE_INFINITY)) throw new RangeError('carryEvery must be a positive integer');
  const module = sumModule();
  if (!module) throw new Error('wasm SIMD is not available');
  const exports = new WebAssembly.Instance(module).exports as unknown as SumExports;
  const hiBytes = 0;
  const loBytes = hiBytes + 8 * capacity;
  const outBytes = loBytes + 8 * capacity;
  // Stryker disable next-line ArithmeticOperator: equivalent: 4 / capacity (< 1) truncates to outBytes, so the slot would share the means' memory, and the two are never in use at once (a mean is copied out before the next update is staged).
  const slotBytes = outBytes + 4 * capacity;
  // Stryker disable next-line ArithmeticOperator: equivalent: growing by more pages than needed only uses more memory.
  const grow = (bytes: number) => exports.memory.grow(Math.ceil(bytes / PAGE) - exports.memory.buffer.byteLength / PAGE);
  grow(slotBytes);
  let words = new Int32Array(exports.memory.buffer, hiBytes, 4 * capacity);
  let slot: Float32Array | undefined;
  /** The adds and the carry work on whole vectors of 4: every parameter is below 4 × vecs (capacity ≥ parameters + 1). */
  const vecs = capacity >> 2;
  /** Updates added since the sums were last canonical, and how many of them were general: their constants' bits are still in the sums. */
  let updates = 0;
  let general = 0;
  /** A bound on how far lo has moved since then (LO_BUDGET). */
  let moved = 0;

  /** The staging slot (made, and the views remade, on first use). */
  const stagingSlot = (): Float32Array => {
    if (!slot) {
      grow(slotBytes + 4 * capacity);
      words = new Int32Array(exports.memory.buffer, hiBytes, 4 * capacity);
      slot = new Float32Array(exports.memory.buffer, slotBytes, capacity);
    }
    return slot;
  };

  /** Takes the constants' bits out and makes the sums canonical (0 ≤ lo < 2^43). */
  const flush = () => {
    // Stryker disable next-line ConditionalExpression: equivalent: with no update since the last carry the sums are canonical and hold no constants' bits, so a carry changes nothing.
    if (updates === 0) return;
    exports.carry(hiBytes, loBytes, 2 * vecs, updates, general);
    updates = 0;
    general = 0;
    moved = 0;
  };

  return {
    kind: 'wasm',
    get words() {
      return words;
    },
    stagingArea() {
      return stagingSlot();
    },
    stage(values, start) {
      const s = stagingSlot();
      // Values decoded straight into the slot (stagingArea) are in place already.
      // Stryker disable next-line ConditionalExpression,ArithmeticOperator: equivalent but for speed: a wrong in-place test copies values that are in place onto themselves.
      if (values.buffer !== s.buffer || values.byteOffset !== s.byteOffset + 4 * start) s.set(values, start);
      return exports.check(s.byteOffset + 4 * start, values.length);
    },
    commit(ns, maxAbs) {
      const top = maxAbs * ns; // exact: the largest |w · ns|
      // The path and the carry schedule change the speed, never the bits: the general path is exact for any
      // update (the oracle tests hold both paths to the JS kernel's state, up to the small bound and past it),
      // and a carry at any point, or one or two updates later than the budget asks (lo then stays below
      // 2^43 + 2^62 + 2^51, inside i64), gives the same canonical sums.
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: see above.
      const small = top <= 2 ** SMALL_TERM_EXPONENT;
      // Stryker disable next-line ArithmeticOperator: equivalent: see above.
      const move = small ? top * 2 ** 43 + 1 : 2 ** 42;
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: see above.
      if (moved + move > LO_BUDGET || updates >= carryEvery) flush();
      if (small) exports.add_small(slotBytes, loBytes, vecs, ns);
      else exports.add_general(slotBytes, hiBytes, loBytes, vecs, ns);
      updates++;
      if (!small) general++;
      moved += move;
    },
    discard() {
      // The next update is staged over this one.
    },
    reset() {
      updates = 0;
      general = 0;
      moved = 0;
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
