import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamingFedAvg } from '../shared/src/strategies/streaming-fedavg.ts';
import { createJsSumKernel } from '../shared/src/strategies/streaming-sum/streaming-sum-js.ts';
import { createWasmSumKernel, LO_BUDGET } from '../shared/src/strategies/streaming-sum/streaming-sum-wasm.ts';
import { canonicalize, SMALL_TERM_EXPONENT, SUM_PADDING, type SumKernel } from '../shared/src/strategies/streaming-sum/sum-kernel.ts';

// The one-pass wasm adds (docs/performance.md#exact-streaming-fedavg): each update added at once from the one
// staging slot, 16 parameters at a time then 4; small ones (every |w·ns| ≤ 2^7) into lo only, the others
// into hi and lo; the constants' bits and the carry left to `carry` (before lo could leave i64, and before
// any read). The JS kernel (every
// term at once, the plainest arithmetic) is the oracle: every state must match it.

function hex(words: Int32Array): string {
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength).toString('hex');
}

function bits(ws: Float32Array[]): string {
  return ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('|');
}

function stateHex(s: StreamingFedAvg): string {
  return Buffer.from(s.toState().sums).toString('hex');
}

/** Adds (values, ns) through the kernel API: stage the one tensor, commit with its largest |w|. */
function feed(k: SumKernel, values: Float32Array, ns: number): void {
  const m = k.stage(values, 0);
  k.commit(ns, m);
}

/** float32 values with the awkward ones often: ±2^24, subnormals, ±0, the largest below 2^24. */
const value = fc.oneof(
  { weight: 3, arbitrary: fc.float({ min: -(2 ** 24), max: 2 ** 24, noNaN: true }) },
  { weight: 2, arbitrary: fc.float({ min: -1, max: 1, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 24, -(2 ** 24), Math.fround(2 ** 24 * (1 - 2 ** -24)), 2 ** -149, -(2 ** -149), 2 ** -126, 0, -0) },
);
/** ns = n · 2^-3 (the default grid, b = 24) with counts from 1 to the cap 2^29 − 1. */
const weight = fc.oneof(fc.integer({ min: 1, max: 2 ** 29 - 1 }), fc.constantFrom(1, 2 ** 29 - 1), fc.integer({ min: 1, max: 64 })).map((n) => n * 2 ** -3);

describe('the wasm fold against the JS oracle', () => {
  it('gives the JS kernel’s canonical state for any length, carry interval, mix of small and general updates and number of updates', () => {
    fc.assert(
      fc.property(
        // Lengths past 16, 32 and 64: the 16-wide loops, the 4-wide tail and the check's 16/4/1 loops.
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 19 }),
        fc.array(fc.tuple(fc.array(value, { minLength: 1, maxLength: 21 }), weight), { minLength: 1, maxLength: 40 }),
        (length, carryEvery, updates) => {
          const capacity = length + SUM_PADDING;
          const w = createWasmSumKernel(capacity, carryEvery);
          const j = createJsSumKernel(capacity);
          for (const [vs, ns] of updates) {
            const values = Float32Array.from({ length }, (_, i) => vs[i % vs.length]);
            feed(w, values, ns);
            feed(j, values, ns);
          }
          w.flush();
          j.flush();
          expect(hex(w.words)).toBe(hex(j.words));
          expect(bits([w.mean(0, length, 1e-6)])).toBe(bits([j.mean(0, length, 1e-6)]));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rounds a term the same on the one-add path and the general one, right up to the small bound', () => {
    // One update at |w·ns| = 2^7 exactly (small), one just past it (general): each alone, against the oracle.
    const edge = 2 ** SMALL_TERM_EXPONENT;
    for (const [w, ns] of [
      [1, edge],
      [-1, edge],
      // Twice the bound: one-add rounding would leave 1.5·2^9's binade here (a wrong term), so it must not be taken.
      [1, 2 * edge],
      [-1, 2 * edge],
      [Math.fround(1 - 2 ** -24), 2 * edge],
      [Math.fround(1 + 2 ** -23), edge],
      [0.1, edge / Math.fround(0.1)],
      [Math.fround(1 / 3), 383.25],
      [2 ** -149, 2 ** 26],
      [-(2 ** 24), 2 ** 26 - 2 ** -3],
    ] as const) {
      const wasm = createWasmSumKernel(8);
      const js = createJsSumKernel(8);
      const values = Float32Array.from([w, -w, w / 3, 0, -0, w * 2 ** -20, w, w]);
      feed(wasm, values, ns);
      feed(js, values, ns);
      wasm.flush();
      js.flush();
      expect(hex(wasm.words), `${w} × ${ns}`).toBe(hex(js.words));
    }
  });

  it('rounds halfway terms to even, on both paths: 0.5 and 1.5 units of 2^-43', () => {
    for (const ns of [2 ** -44, 3 * 2 ** -44, 2 ** 20 + 2 ** -44]) {
      const wasm = createWasmSumKernel(8);
      const js = createJsSumKernel(8);
      feed(wasm, Float32Array.from([1, -1, 3, -3, 0, 0, 0, 0]), ns);
      wasm.flush();
      feed(js, Float32Array.from([1, -1, 3, -3, 0, 0, 0, 0]), ns);
      js.flush();
      expect(hex(wasm.words)).toBe(hex(js.words));
    }
    // 2^-44 · 1 is half a unit: ties to even → 0; 3·2^-44 is 1.5 units → 2 (lo words 0 and 2, hi 0).
    const k = createWasmSumKernel(8);
    feed(k, Float32Array.from([1, 3, -1, -3, 0, 0, 0, 0]), 2 ** -44);
    k.flush();
    // T = −2 is canonical as hi = −1, lo = 2^43 − 2: words (low, high) of hi then of lo.
    expect(Array.from(k.words.subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, -1, -1]);
    expect(Array.from(k.words.subarray(16, 24))).toEqual([0, 0, 2, 0, 0, 0, -2, 2 ** 11 - 1]);
  });
});

describe('the mean', () => {
  it('gives the JS kernel’s bits on both sides of |H| = 2^42 (the one-add path below it, the TwoSum chain at and above, up to 2^62)', () => {
    // Canonical sums written straight into both kernels: hi around ±2^42 (and 0, ±1, ±2^53, the extremes), lo all over 0 … 2^43 − 1.
    const his = [0n, 1n, -1n, 2n ** 42n - 1n, 2n ** 42n, -(2n ** 42n) + 1n, -(2n ** 42n), -(2n ** 42n) - 1n, 2n ** 53n + 3n, -(2n ** 62n), 2n ** 62n - 1n, 12345n];
    const los = [0n, 1n, 2n ** 42n, 2n ** 43n - 1n, 0x2aaaaaaaaaan, 2n ** 32n - 1n, 2n ** 32n, 0x5555_5555_555n];
    const n = his.length * los.length;
    const capacity = n + SUM_PADDING;
    const wasm = createWasmSumKernel(capacity);
    const js = createJsSumKernel(capacity);
    for (const k of [wasm, js]) {
      const view = new BigInt64Array(k.words.buffer, k.words.byteOffset, 2 * capacity);
      his.forEach((h, i) => los.forEach((l, j) => {
        view[i * los.length + j] = h;
        view[capacity + i * los.length + j] = l;
      }));
    }
    for (const scale of [1, 1e-6, 2 ** -40, 3.7e-30, 1e30]) {
      expect(bits([wasm.mean(0, n, scale)]), `scale ${scale}`).toBe(bits([js.mean(0, n, scale)]));
      // Odd starts and counts (a pair straddling two sums, the last one alone).
      expect(bits([wasm.mean(3, n - 4, scale)])).toBe(bits([js.mean(3, n - 4, scale)]));
    }
  });
});

describe('canonical sums', () => {
  it('carries lo’s bits above 2^43 into hi, negative ones too, across hi’s 32-bit words', () => {
    // capacity 2: hi words [0..3], lo words [4..7]. Parameter 0: lo = 2^43 · 3 + 5 → hi + 3, lo 5.
    // Parameter 1: hi = 2^32 − 1 (low word all ones), lo = −1 → hi − 1 + … → lo = 2^43 − 1, hi = 2^32 − 2.
    const words = Int32Array.from([7, 0, -1, 0, 5, 3 << 11, -1, -1]);
    canonicalize(words, 2);
    expect(Array.from(words)).toEqual([10, 0, -2, 0, 5, 0, -1, 2 ** 11 - 1]);
    // A carry out of hi's low word: hi = 2^32 − 1, lo = 2^43 → hi = 2^32, lo = 0.
    const carry = Int32Array.from([-1, 0, 0, 0, 0, 1 << 11, 0, 0]);
    canonicalize(carry, 2);
    expect(Array.from(carry)).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
    // And a borrow: hi = 2^32, lo = −2^43 → hi = 2^32 − 1, lo = 0.
    const borrow = Int32Array.from([0, 1, 0, 0, 0, -(1 << 11), 0, 0]);
    canonicalize(borrow, 2);
    expect(Array.from(borrow)).toEqual([-1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('fromState takes a state whose lo words are not canonical and gives the canonical sum (same result)', () => {
    const s = new StreamingFedAvg([2]);
    s.add([Float32Array.from([0.1, -0.3])], 7);
    s.add([Float32Array.from([1e-9, 2 ** 20])], 3);
    const st = s.toState();
    const words = new Int32Array(st.sums.slice().buffer);
    // The same integers written as hi − 1, lo + 2^43 (parameter 0) and hi + 2, lo − 2^44 (parameter 1).
    const moved = words.slice();
    const sub = (j: number, d: number) => {
      const low = (moved[j] >>> 0) + d;
      moved[j] = low | 0;
      moved[j + 1] = (moved[j + 1] + Math.floor(low / 2 ** 32)) | 0;
    };
    sub(0, -1);
    moved[5] += 1 << 11;
    sub(2, 2);
    moved[7] -= 2 << 11;
    const t = StreamingFedAvg.fromState({ ...st, sums: new Uint8Array(moved.buffer) });
    expect(stateHex(t)).toBe(Buffer.from(st.sums).toString('hex'));
    expect(bits(t.result())).toBe(bits(s.result()));
  });
});

describe('carries, reset and decoding in place', () => {
  it('carries before lo could leave i64: 8,200 of the largest small terms, one sign, then general ones', () => {
    // Every small term here is ±2^50 in lo's units (|w·ns| = 2^7, the small bound): 8,200 of them add up to
    // more than 2^63, past i64 without a carry in between.
    expect(LO_BUDGET).toBe(2 ** 62);
    const up = Float32Array.from([1, -1, 0.5, 1, 1, -1, 1, 1]);
    const wasm = createWasmSumKernel(8);
    const js = createJsSumKernel(8);
    for (let k = 0; k < 8200; k++) {
      feed(wasm, up, 2 ** SMALL_TERM_EXPONENT);
      feed(js, up, 2 ** SMALL_TERM_EXPONENT);
    }
    wasm.flush();
    js.flush();
    expect(hex(wasm.words)).toBe(hex(js.words));
    // T = 8200 · 2^50 = hi · 2^43 + lo with lo = 0: hi = 8200 · 2^7 for parameter 0, −8200 · 2^7 for parameter 1.
    expect(Array.from(wasm.words.subarray(0, 4))).toEqual([8200 * 128, 0, -8200 * 128, -1]);
    // General updates (|w·ns| up to 2^47 here) mixed with small ones from there, no read in between.
    for (let k = 0; k < 300; k++) {
      const ns = k % 3 === 0 ? 2 ** 47 - k : 2 ** -k;
      feed(wasm, up, ns);
      feed(js, up, ns);
    }
    wasm.flush();
    js.flush();
    expect(hex(wasm.words)).toBe(hex(js.words));
  });

  it('takes the one-add path up to the small bound exactly and the general one past it: the same terms as the oracle', () => {
    for (const ns of [2 ** 7, 2 ** 7 + 2 ** -3, 2 ** 8, 2 ** 18, 3 * 2 ** 15 + 0.375, 2 ** 25 - 2 ** -3]) {
      const wasm = createWasmSumKernel(24);
      const js = createJsSumKernel(24);
      const values = Float32Array.from({ length: 24 }, (_, i) => (i === 0 ? 1 : i === 1 ? -1 : Math.fround(Math.sin(i) * 2 ** -(i % 30))));
      feed(wasm, values, ns);
      feed(js, values, ns);
      wasm.flush();
      js.flush();
      expect(hex(wasm.words), `ns ${ns}`).toBe(hex(js.words));
      // Another update on the small path after it, past a read.
      feed(wasm, values, 1);
      feed(js, values, 1);
      wasm.flush();
      js.flush();
      expect(hex(wasm.words), `ns ${ns} then 1`).toBe(hex(js.words));
    }
  });

  it('refuses a carry interval that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createWasmSumKernel(8, bad)).toThrow(RangeError);
  });

  it.each([1, 15, 16, 17, 33, 40])('%i updates, read back after every few: the JS kernel’s state and bits', (count) => {
    const lengths = [37, 5];
    const wasm = new StreamingFedAvg(lengths, { kernel: 'wasm' });
    const js = new StreamingFedAvg(lengths, { kernel: 'js' });
    for (let k = 0; k < count; k++) {
      // Counts alternate between small updates (n·|w| small) and large ones (every term on the general path).
      const n = k % 3 === 0 ? 2 ** 29 - 1 - k : 1 + k;
      const ws = lengths.map((len, t) => Float32Array.from({ length: len }, (_, i) => Math.fround(Math.sin(k * 7 + i * 3 + t) * (k % 4 === 1 ? 2 ** 24 : 0.5))));
      wasm.add(ws, n);
      js.add(ws, n);
      // Reading the sum (result, state) carries first; the adds go on from there.
      if (k % 7 === 6) expect(bits(wasm.result())).toBe(bits(js.result()));
    }
    expect(wasm.count).toBe(count);
    expect(stateHex(wasm)).toBe(stateHex(js));
    expect(bits(wasm.result())).toBe(bits(js.result()));
  });

  it.each(['wasm', 'js'] as const)('reset() empties the sum (%s kernel), pending updates included, and it sums again from zero', (kernel) => {
    const s = new StreamingFedAvg([3], { kernel });
    for (let k = 0; k < 20; k++) s.add([Float32Array.from([k, -k, 0.5])], 2);
    s.reset();
    expect(s.count).toBe(0);
    expect(s.totalExamples).toBe(0);
    expect(() => s.result()).toThrow(expect.objectContaining({ code: 'no_updates' }));
    expect(stateHex(s)).toBe('00'.repeat(48));
    s.add([Float32Array.from([1, 2, 3])], 1);
    s.add([Float32Array.from([3, 4, 5])], 3);
    expect(s.count).toBe(2);
    expect(s.totalExamples).toBe(4);
    expect(Array.from(s.result()[0])).toEqual([2.5, 3.5, 4.5]);
  });

  it.each(['wasm', 'js'] as const)('updateArrays(): an update decoded into them is summed without a copy and gives the bits of the same values passed as arrays (%s)', (kernel) => {
    const lengths = [6, 3];
    const placed = new StreamingFedAvg(lengths, { kernel });
    const passed = new StreamingFedAvg(lengths, { kernel });
    for (let k = 0; k < 19; k++) {
      const arrays = placed.updateArrays();
      expect(arrays.map((a) => a.length)).toEqual(lengths);
      const ws = lengths.map((len, t) => Float32Array.from({ length: len }, (_, i) => Math.fround((k + 1) * (i - t) * 0.37)));
      arrays.forEach((a, t) => a.set(ws[t]));
      placed.add(arrays, 10 + k);
      passed.add(ws, 10 + k);
    }
    expect(stateHex(placed)).toBe(stateHex(passed));
    expect(bits(placed.result())).toBe(bits(passed.result()));
  });

  it('updateArrays() are the wasm sum’s own staging memory: a value written there is the one checked and summed', () => {
    const s = new StreamingFedAvg([4, 2], { kernel: 'wasm' });
    const arrays = s.updateArrays();
    // Both tensors view the one slot, back to back, in the sum's wasm memory (not a JS copy).
    expect(arrays[0].buffer).toBe(arrays[1].buffer);
    expect(arrays[1].byteOffset).toBe(arrays[0].byteOffset + 16);
    expect(arrays[0].buffer).toBeInstanceOf(ArrayBuffer);
    arrays[0].set([1, 2, 3, 4]);
    arrays[1].set([5, Number.NaN]);
    expect(() => s.add(arrays, 1)).toThrow(expect.objectContaining({ code: 'non_finite', message: 'update has a non-finite value (NaN) in tensor 1 at index 1' }));
    // The slot is the next update's: written again, it is summed.
    const again = s.updateArrays();
    expect(again[0].byteOffset).toBe(arrays[0].byteOffset);
    again[1][1] = 6;
    s.add(again, 1);
    expect(s.result().map((a) => Array.from(a))).toEqual([[1, 2, 3, 4], [5, 6]]);
  });

  it('stage copies what is not in place: values in another buffer at the slot\'s own byte offset, and the slot\'s own values staged at another position', () => {
    const capacity = 8 + SUM_PADDING;
    const [wasm, js] = [createWasmSumKernel(capacity), createJsSumKernel(capacity)];
    const slot = wasm.stagingArea();
    // Tensor 0 (parameters 0–3) from a foreign buffer whose view starts at the slot's byte offset.
    const foreign = new Float32Array(new ArrayBuffer(slot.byteOffset + 16), slot.byteOffset, 4);
    foreign.set([1.5, -2, 3, 0.25]);
    // Tensor 1 (parameters 4–7) written at the start of the slot, then staged at position 4.
    const tail = [7, 8, -9, 10];
    slot.set(tail, 0);
    // Tensor 1 first: staging tensor 0 then fills the slot's start.
    const m1 = wasm.stage(slot.subarray(0, 4), 4);
    const m0 = wasm.stage(foreign, 0);
    expect([m0, m1]).toEqual([3, 10]);
    wasm.commit(0.5, 10);
    js.commit(0.5, Math.max(js.stage(Float32Array.from([1.5, -2, 3, 0.25]), 0), js.stage(Float32Array.from(tail), 4)));
    wasm.flush();
    js.flush();
    expect(hex(wasm.words)).toBe(hex(js.words));
    expect(Array.from(wasm.mean(0, 8, 2))).toEqual([1.5, -2, 3, 0.25, 7, 8, -9, 10]);
  });
});

describe('mean: the canonical sum T = hi·2^43 + lo read back exactly (TwoSum over four float64 parts), both kernels', () => {
  // Canonical words written directly, with hi anywhere in ±2^62 and lo in [0, 2^43): sums whose float64 parts
  // overlap, so each TwoSum error term decides the last bit. The reference is BigInt: T / 2^43 rounded once to
  // float64 (Number of a BigInt rounds to nearest, the power-of-two division is exact), then × scale, float32.
  const kernels: Array<[string, (capacity: number) => SumKernel]> = [
    ['js', createJsSumKernel],
    ['wasm', (capacity) => createWasmSumKernel(capacity)],
  ];
  const lcg = (seed: number) => {
    let s = BigInt(seed);
    return (): bigint => (s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n));
  };

  // Sums that sit on a float32 rounding midpoint M once their float64 parts are added naively: only the TwoSum
  // error terms carry the bit that decides the rounding (each case fails if its term is dropped or negated).
  //   hi = M + 1 with M = 2^53 + 2^29, lo = 1: a1 + b1 rounds to M (a tie), the lost 1 and lo's 2^-43 make M + 2.
  //   hi = M = 2^45 + 2^21, lo = 8·2^32 + 1: + lo_high·2^-11 = 2^-8 is a tie (to M), lo_low's 2^-43 breaks it.
  const midpointCases: Array<[string, bigint]> = [
    ['the hi words', ((1n << 53n) + (1n << 29n) + 1n) * (1n << 43n) + 1n],
    ['lo\'s high word', ((1n << 45n) + (1n << 21n)) * (1n << 43n) + 8n * (1n << 32n) + 1n],
  ];
  const write = (k: SumKernel, capacity: number, i: number, sum: bigint): void => {
    const hi = sum >> 43n; // floor: lo = sum − hi·2^43 is in [0, 2^43)
    const lo = sum - hi * (1n << 43n);
    const hiWord = BigInt.asUintN(64, hi);
    k.words[2 * i] = Number(hiWord & 0xffffffffn) | 0;
    k.words[2 * i + 1] = Number(hiWord >> 32n) | 0;
    k.words[2 * capacity + 2 * i] = Number(lo & 0xffffffffn) | 0;
    k.words[2 * capacity + 2 * i + 1] = Number(lo >> 32n) | 0;
  };

  it.each(kernels)('%s: a sum on a float32 midpoint is rounded by the bits only the error terms keep', (_, make) => {
    const capacity = midpointCases.length + SUM_PADDING;
    const k = make(capacity);
    midpointCases.forEach(([, sum], i) => write(k, capacity, i, sum));
    const out = k.mean(0, midpointCases.length, 1);
    midpointCases.forEach(([name, sum], i) => {
      const expected = Math.fround(Number(sum) / 2 ** 43);
      const hi = sum >> 43n;
      const lo = sum - hi * (1n << 43n);
      const naive = Math.fround(Number(BigInt.asIntN(64, hi) >> 32n) * 2 ** 32 + Number(BigInt.asUintN(32, hi)) + Number(lo >> 32n) * 2 ** -11 + Number(lo & 0xffffffffn) * 2 ** -43);
      expect([name, naive === expected]).toEqual([name, false]);
      expect([name, out[i]]).toEqual([name, expected]);
    });
  });

  it.each(kernels)('%s: every value equals the BigInt reference, at several scales', (_, make) => {
    const capacity = 4096 + SUM_PADDING;
    const k = make(capacity);
    const next = lcg(11);
    const sums: bigint[] = [];
    for (let i = 0; i < capacity; i++) {
      const r = next();
      // hi: a random magnitude up to 2^62 (the low bits kept), sign from a bit; lo: 43 random bits.
      const shift = r % 63n;
      let hi = (next() >> (64n - shift)) | 0n;
      if (r & 1n) hi = -hi;
      const lo = next() & ((1n << 43n) - 1n);
      sums.push(hi * (1n << 43n) + lo);
      const hiWord = BigInt.asUintN(64, hi);
      k.words[2 * i] = Number(hiWord & 0xffffffffn) | 0;
      k.words[2 * i + 1] = Number(hiWord >> 32n) | 0;
      k.words[2 * capacity + 2 * i] = Number(lo & 0xffffffffn) | 0;
      k.words[2 * capacity + 2 * i + 1] = Number(lo >> 32n) | 0;
    }
    for (const scale of [1, 2 ** -40, 1 / 3, 2 ** -70]) {
      const out = k.mean(0, capacity - SUM_PADDING, scale);
      for (let i = 0; i < capacity - SUM_PADDING; i++) {
        const expected = Math.fround((Number(sums[i]!) / 2 ** 43) * scale);
        if (out[i] !== expected) expect([scale, i, sums[i]!.toString(), out[i]]).toEqual([scale, i, sums[i]!.toString(), expected]);
      }
    }
  });
});
