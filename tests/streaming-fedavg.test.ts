import { describe, expect, it } from 'vitest';
import { FedtuneError } from '../shared/src/errors.ts';
import { SeededRandom } from '../shared/src/random/seeded-random.ts';
import { weightedAverage } from '../shared/src/strategies/aggregate-fedavg.ts';
import { StreamingFedAvg, type StreamingFedAvgState } from '../shared/src/strategies/streaming-fedavg.ts';
import { wasmSumAvailable } from '../shared/src/strategies/streaming-sum/streaming-sum-wasm.ts';

function updates(k: number, n: number, seed: number) {
  const rng = new SeededRandom(seed);
  return Array.from({ length: k }, (_, j) => ({
    weights: [Float32Array.from({ length: n }, () => Math.fround(rng.normal() * 10 ** rng.int(4) * 1e-3)), Float32Array.from({ length: 3 }, () => Math.fround(rng.normal()))],
    numExamples: 1 + rng.int(5000),
  }));
}

function bits(ws: Float32Array[]): string {
  return ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('|');
}

describe.each(['wasm', 'js'] as const)('streaming FedAvg (%s kernel)', (kernel) => {
  it('runs on the kernel it was asked for', () => {
    expect(new StreamingFedAvg([3], { kernel }).kernelKind).toBe(kernel);
  });

  it('gives bit-identical weights whatever order the updates arrive in', () => {
    const us = updates(7, 5000, 1);
    const results = new Set<string>();
    const rng = new SeededRandom(2);
    for (let trial = 0; trial < 12; trial++) {
      const order = rng.shuffle([...us]);
      const acc = new StreamingFedAvg([5000, 3], { kernel });
      for (const u of order) acc.add(u.weights, u.numExamples);
      results.add(bits(acc.result()));
    }
    expect(results.size).toBe(1);
  });

  it('equals the weighted average to float32 precision', () => {
    const us = updates(5, 2000, 3);
    const acc = new StreamingFedAvg([2000, 3], { kernel });
    for (const u of us) acc.add(u.weights, u.numExamples);
    const got = acc.result();
    const ref = weightedAverage([new Float32Array(2000), new Float32Array(3)], us);
    // Differences come from float32 rounding of the terms (cancellation), so compare against their scale.
    for (let t = 0; t < 2; t++) {
      for (let i = 0; i < got[t].length; i++) {
        const scale = Math.max(...us.map((u) => Math.abs(u.weights[t][i])));
        expect(Math.abs(got[t][i] - ref[t][i])).toBeLessThanOrEqual(scale * 1e-6);
      }
    }
  });

  it('rejects bad counts and shapes without changing the sum', () => {
    const acc = new StreamingFedAvg([2], { kernel });
    acc.add([new Float32Array([1, 2])], 1);
    expect(() => acc.add([new Float32Array([1, 2, 3])], 1)).toThrow(FedtuneError);
    expect(() => acc.add([new Float32Array([1, 2])], 0)).toThrow(/integer/);
    expect(Array.from(acc.result()[0])).toEqual([1, 2]);
    expect(() => new StreamingFedAvg([1]).result()).toThrow(/zero updates/);
  });
});

describe('streaming FedAvg: exact sums and limits', () => {
  it('keeps the rounding error of the running sum: 2^58 + 1 − 2^58 is 1, not 0', () => {
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [2, 1, 0],
    ];
    const parts: Array<[number, number]> = [
      [2 ** 30, 2 ** 28], // n·w = 2^58
      [1, 1], // + 1: lost in a plain float64 sum next to 2^58
      [-(2 ** 30), 2 ** 28], // − 2^58
    ];
    for (const order of orders) {
      // |w| = 2^30 needs a grid for values up to 2^30 (the default accepts ±2^24).
      const s = new StreamingFedAvg([1], { maxAbsExponent: 30 });
      for (const k of order) s.add([Float32Array.from([parts[k][0]])], parts[k][1]);
      expect(s.count).toBe(3);
      expect(s.result()[0][0], `order ${order}`).toBe(Math.fround(1 / (2 ** 29 + 1)));
      // A hundred more exact adds keep the pair normalised and the lost 1 found.
      for (let k = 0; k < 100; k++) s.add([Float32Array.from([0])], 1);
      expect(s.result()[0][0], `order ${order}, then zeros`).toBe(Math.fround(1 / (2 ** 29 + 101)));
    }
  });

  it('is the example-weighted mean over every tensor, rounded once', () => {
    const s = new StreamingFedAvg([2, 1]);
    s.add([Float32Array.from([1, 2]), Float32Array.from([10])], 1);
    s.add([Float32Array.from([3, 6]), Float32Array.from([20])], 3);
    expect(s.result().map((w) => Array.from(w))).toEqual([[2.5, 5], [17.5]]);
    expect(s.count).toBe(2);
    // result() does not consume the sum.
    expect(s.result().map((w) => Array.from(w))).toEqual([[2.5, 5], [17.5]]);
  });

  it('takes counts in 1 … 2^29 − 1 and the exact layout, with messages that say so', () => {
    const s = new StreamingFedAvg([1]);
    s.add([Float32Array.from([2])], 2 ** 29 - 1);
    for (const n of [0, -1, 2 ** 29, 1.5, Number.NaN]) {
      expect(() => s.add([Float32Array.from([1])], n)).toThrow(
        expect.objectContaining({ code: 'invalid_count', message: `number of examples must be an integer in 1..2^29, got ${n}` }),
      );
    }
    expect(() => s.add([Float32Array.from([1]), Float32Array.from([1])], 1)).toThrow(
      expect.objectContaining({ code: 'shape_mismatch', message: 'update does not have the global model’s layout' }),
    );
    expect(() => s.add([Float32Array.from([1, 2])], 1)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(() => s.add([], 1)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    // One tensor of the right size next to one of the wrong size is still another layout.
    const two = new StreamingFedAvg([1, 2]);
    expect(() => two.add([Float32Array.from([1]), Float32Array.from([1, 2, 3])], 1)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(() => two.result()).toThrow(expect.objectContaining({ code: 'no_updates' }));
    expect(s.count).toBe(1);
    expect(Array.from(s.result()[0])).toEqual([2]);
    expect(() => new StreamingFedAvg([3]).result()).toThrow(expect.objectContaining({ code: 'no_updates', message: 'cannot aggregate zero updates' }));
  });
});

function state(s: StreamingFedAvg): string {
  const st = s.toState();
  return `${st.count}/${st.totalExamples}/${Buffer.from(st.sums).toString('hex')}`;
}

describe.each(['wasm', 'js'] as const)('streaming FedAvg: the check folded into the sum (%s kernel)', (kernel) => {
  const bad = [
    { value: Number.NaN, message: 'update has a non-finite value (NaN) in tensor 1 at index 2' },
    { value: Number.POSITIVE_INFINITY, message: 'update has a non-finite value (Infinity) in tensor 1 at index 2' },
    { value: Number.NEGATIVE_INFINITY, message: 'update has a non-finite value (-Infinity) in tensor 1 at index 2' },
    { value: 2 ** 24 + 2, message: 'update has a value (16777218) outside ±2^24 in tensor 1 at index 2' },
    { value: -(2 ** 25), message: 'update has a value (-33554432) outside ±2^24 in tensor 1 at index 2' },
    { value: 3e38, message: 'update has a value (3.0000000054977558e+38) outside ±2^24 in tensor 1 at index 2' },
  ];
  it.each(bad)('refuses $value with non_finite and leaves the sum exactly as it was', ({ value, message }) => {
    const s = new StreamingFedAvg([5000, 7], { kernel });
    const us = updates(3, 5000, 9).map((u) => ({ ...u, weights: [u.weights[0], Float32Array.from({ length: 7 }, (_, i) => u.weights[1][i % 3])] }));
    s.add(us[0].weights, us[0].numExamples);
    s.add(us[1].weights, us[1].numExamples);
    const before = state(s);
    const resultBefore = bits(s.result());
    // The bad value sits in the second tensor, after a whole first tensor (folded in, then taken out again),
    // and before more good values; a second bad value later on is not the one reported.
    const w = [us[2].weights[0], Float32Array.from([1, -2, value, 4, 5, Number.NaN, 7])];
    expect(() => s.add(w, 1234)).toThrow(expect.objectContaining({ code: 'non_finite', message }));
    expect(state(s)).toBe(before);
    expect(s.count).toBe(2);
    expect(bits(s.result())).toBe(resultBefore);
    // And the sum goes on as if the refused update had never come.
    const fresh = new StreamingFedAvg([5000, 7], { kernel });
    for (const u of [us[0], us[1]]) fresh.add(u.weights, u.numExamples);
    const good = [us[2].weights[0], Float32Array.from([1, -2, 3, 4, 5, 6, 7])];
    s.add(good, 99);
    fresh.add(good, 99);
    expect(state(s)).toBe(state(fresh));
  });

  it('refuses a bad value in the first tensor too (nothing folded in before it)', () => {
    const s = new StreamingFedAvg([3, 2], { kernel });
    s.add([Float32Array.from([1, 2, 3]), Float32Array.from([4, 5])], 2);
    const before = state(s);
    expect(() => s.add([Float32Array.from([Number.NaN, 2, 3]), Float32Array.from([4, 5])], 2)).toThrow(
      expect.objectContaining({ code: 'non_finite', message: 'update has a non-finite value (NaN) in tensor 0 at index 0' }),
    );
    expect(state(s)).toBe(before);
  });

  it.each([
    { exponent: 0, ok: [1, -1, 0.5, 2 ** -149], refused: [1.0000001, -2] },
    { exponent: 24, ok: [2 ** 24, -(2 ** 24), 0.75], refused: [2 ** 24 + 2] },
    { exponent: 100, ok: [2 ** 100, 1e30, -1e-30], refused: [2 ** 101, Number.POSITIVE_INFINITY] },
    { exponent: -10, ok: [2 ** -10, -(2 ** -11)], refused: [2 ** -9] },
  ])('maxAbsExponent $exponent: accepts |w| ≤ 2^$exponent and refuses more', ({ exponent, ok, refused }) => {
    const s = new StreamingFedAvg([1], { kernel, maxAbsExponent: exponent });
    expect(s.maxAbs).toBe(2 ** exponent);
    for (const v of ok) s.add([Float32Array.from([v])], 3);
    for (const v of refused) expect(() => s.add([Float32Array.from([v])], 3)).toThrow(expect.objectContaining({ code: 'non_finite' }));
    expect(s.count).toBe(ok.length);
    const mean = ok.reduce((a, v) => a + Math.fround(v), 0) / ok.length;
    expect(s.result()[0][0]).toBe(Math.fround(mean));
  });

  it.each([-65, 127, 1.5, Number.NaN])('refuses maxAbsExponent %s with a config error', (exponent) => {
    expect(() => new StreamingFedAvg([1], { kernel, maxAbsExponent: exponent })).toThrow(
      expect.objectContaining({ code: 'config', message: `maxAbsExponent must be an integer in -64..126, got ${exponent}` }),
    );
  });
});

/** `us` split into consecutive partial sums of the given sizes ([3001, 3] layout), alternating the kernel: their states are the same integers. */
function partialSums(us: ReturnType<typeof updates>, split: number[], kernel: 'wasm' | 'js'): StreamingFedAvg[] {
  const parts: StreamingFedAvg[] = [];
  let k = 0;
  for (const size of split) {
    const p = new StreamingFedAvg([3001, 3], { kernel: parts.length % 2 === 0 ? kernel : kernel === 'js' ? 'wasm' : 'js' });
    for (const u of us.slice(k, k + size)) p.add(u.weights, u.numExamples);
    k += size;
    parts.push(p);
  }
  return parts;
}

describe.each(['wasm', 'js'] as const)('streaming FedAvg: merge and state (%s kernel)', (kernel) => {
  it('merging partial sums gives the bits of one sum over every update, however they were split', () => {
    const us = updates(9, 3001, 4);
    const whole = new StreamingFedAvg([3001, 3], { kernel });
    for (const u of us) whole.add(u.weights, u.numExamples);
    for (const split of [[0, 9], [1, 8], [4, 5], [3, 3, 3], [9, 0]]) {
      const parts = partialSums(us, split, kernel);
      const merged = parts[parts.length - 1];
      for (const p of parts.slice(0, -1).reverse()) merged.merge(p);
      expect(merged.count).toBe(9);
      expect(merged.totalExamples).toBe(us.reduce((n, u) => n + u.numExamples, 0));
      expect(state(merged), `split ${split}`).toBe(state(whole));
      expect(bits(merged.result())).toBe(bits(whole.result()));
    }
  });

  it('mergeState folds a state in with the bits merge(fromState(state)) gives, on any split, without a second sum', () => {
    const us = updates(9, 3001, 14);
    const whole = new StreamingFedAvg([3001, 3], { kernel });
    for (const u of us) whole.add(u.weights, u.numExamples);
    for (const split of [[0, 9], [2, 7], [4, 5], [3, 3, 3], [9, 0]]) {
      const parts = partialSums(us, split, kernel);
      const merged = parts[parts.length - 1];
      for (const p of parts.slice(0, -1)) merged.mergeState(structuredClone(p.toState()));
      expect(merged.count).toBe(9);
      expect(merged.totalExamples).toBe(us.reduce((n, u) => n + u.numExamples, 0));
      expect(state(merged), `split ${split}`).toBe(state(whole));
      expect(bits(merged.result())).toBe(bits(whole.result()));
    }
  });

  it('mergeState carries across words, and takes a state that is not canonical as the same integers', () => {
    const a = new StreamingFedAvg([2], { kernel });
    const b = new StreamingFedAvg([2], { kernel });
    const both = new StreamingFedAvg([2], { kernel });
    for (const [s, v, n] of [[a, 2 ** 23, 3], [b, 2 ** 23 - 1, 2 ** 20 + 1], [a, -12345.678, 7], [b, 0.1, 1]] as const) {
      s.add([Float32Array.from([v, -v])], n);
      both.add([Float32Array.from([v, -v])], n);
    }
    // b's state rewritten non-canonically: hi − 1 and lo + 2^43 for parameter 0 (the same integer T = hi·2^43 + lo).
    const st = b.toState();
    const w = new DataView(st.sums.buffer, st.sums.byteOffset, st.sums.byteLength);
    w.setBigInt64(0, w.getBigInt64(0, true) - 1n, true);
    w.setBigInt64(2 * 8, w.getBigInt64(2 * 8, true) + 2n ** 43n, true);
    const viaFromState = new StreamingFedAvg([2], { kernel });
    for (const [v, n] of [[2 ** 23, 3], [-12345.678, 7]] as const) viaFromState.add([Float32Array.from([v, -v])], n);
    viaFromState.merge(StreamingFedAvg.fromState(st));
    a.mergeState(st);
    expect(state(a)).toBe(state(both));
    expect(state(a)).toBe(state(viaFromState));
    expect(bits(a.result())).toBe(bits(both.result()));
  });

  it('mergeState refuses what merge and fromState refuse, and leaves the sum as it was', () => {
    const s = new StreamingFedAvg([3, 2], { kernel });
    s.add([Float32Array.from([1, 2, 3]), Float32Array.from([4, 5])], 10);
    const before = state(s);
    const other = new StreamingFedAvg([3, 2], { kernel });
    other.add([Float32Array.from([1, 1, 1]), Float32Array.from([1, 1])], 5);
    const st = other.toState();
    const cases: Array<[Partial<StreamingFedAvgState>, string, RegExp]> = [
      [{ lengths: [3, -2] }, 'malformed_payload', /lengths must be non-negative integers/],
      [{ sums: new Uint8Array(16 * 5 - 1) }, 'malformed_payload', /sums must be 80 bytes/],
      [{ count: 2, totalExamples: 1 }, 'malformed_payload', /count and totalExamples/],
      [{ count: 0, totalExamples: 5 }, 'malformed_payload', /count and totalExamples/],
      [{ lengths: [2, 3] }, 'shape_mismatch', /layout/],
      [{ lengths: [5], sums: new Uint8Array(80) }, 'shape_mismatch', /layout/],
      [{ maxAbsExponent: 20 }, 'config', /grid \(maxAbsExponent 20\) is not this sum's \(24\)/],
      [{ count: 2 ** 20, totalExamples: 2 ** 20 }, 'invalid_count', /at most 2\^20 updates/],
      [{ count: 1, totalExamples: 2 ** 41 - 10 }, 'invalid_count', /fewer than 2\^41 examples/],
    ];
    for (const [patch, code, message] of cases) {
      expect(() => s.mergeState({ ...st, ...patch }), JSON.stringify(Object.keys(patch))).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
      expect(state(s)).toBe(before);
      expect(s.count).toBe(1);
      expect(s.totalExamples).toBe(10);
    }
    s.mergeState(st);
    expect(s.count).toBe(2);
    expect(s.totalExamples).toBe(15);
  });

  it('a layout that differs in one tensor only is refused by merge and mergeState; the count limit is inclusive', () => {
    const s = new StreamingFedAvg([3, 2, 1], { kernel });
    s.add([Float32Array.from([1, 2, 3]), Float32Array.from([4, 5]), Float32Array.from([6])], 10);
    const before = state(s);
    // Same number of tensors and parameters, the first tensor the same: only the others differ.
    const other = new StreamingFedAvg([3, 1, 2], { kernel });
    other.add([Float32Array.from([1, 1, 1]), Float32Array.from([1]), Float32Array.from([1, 1])], 5);
    expect(() => s.mergeState(other.toState())).toThrow(expect.objectContaining({ code: 'shape_mismatch', message: 'the other sum does not have this sum’s layout' }));
    expect(() => s.merge(other)).toThrow(expect.objectContaining({ code: 'shape_mismatch', message: 'the other sum does not have this sum’s layout' }));
    expect(state(s)).toBe(before);
    // 1 update here + 2^20 − 1 in the state is exactly the limit: taken.
    const same = new StreamingFedAvg([3, 2, 1], { kernel });
    same.add([Float32Array.from([0, 0, 0]), Float32Array.from([0, 0]), Float32Array.from([0])], 1);
    s.mergeState({ ...same.toState(), count: 2 ** 20 - 1, totalExamples: 2 ** 20 - 1 });
    expect(s.count).toBe(2 ** 20);
  });

  it('a zero-length tensor is a layout like any other: kept by fromState, and a sum without it is another layout', () => {
    const s = new StreamingFedAvg([3, 0], { kernel });
    s.add([Float32Array.from([1, 2, 3]), new Float32Array(0)], 4);
    const back = StreamingFedAvg.fromState(s.toState(), { kernel });
    expect(back.result().map((a) => Array.from(a))).toEqual([[1, 2, 3], []]);
    const without = new StreamingFedAvg([3], { kernel });
    without.add([Float32Array.from([1, 2, 3])], 4);
    expect(() => s.mergeState(without.toState())).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(() => s.merge(without)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(() => s.merge(s)).toThrow(expect.objectContaining({ code: 'config', message: 'cannot merge a sum into itself' }));
  });

  it('a hostile grid value in a state is quoted bounded in the refusal', () => {
    const s = new StreamingFedAvg([2], { kernel });
    const other = new StreamingFedAvg([2], { kernel });
    other.add([Float32Array.from([1, 2])], 1);
    let message = '';
    try {
      s.mergeState({ ...other.toState(), maxAbsExponent: 'x'.repeat(1000) as unknown as number });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(`the other sum's grid (maxAbsExponent ${'x'.repeat(32)}) is not this sum's (24)`);
  });

  it('fromState reads sums given as a view at an offset of a larger buffer (as bytes off the wire arrive)', () => {
    const s = new StreamingFedAvg([3, 2], { kernel });
    s.add([Float32Array.from([1.5, -2, 3]), Float32Array.from([4, 5.25])], 10);
    s.add([Float32Array.from([0.5, 7, -3]), Float32Array.from([1, 2])], 3);
    const st = s.toState();
    const wire = new Uint8Array(st.sums.length + 13);
    wire.fill(0xa5);
    wire.set(st.sums, 5);
    const t = StreamingFedAvg.fromState({ ...st, sums: wire.subarray(5, 5 + st.sums.length) }, { kernel });
    expect(state(t)).toBe(state(s));
    expect(t.result().map((a) => Array.from(a))).toEqual(s.result().map((a) => Array.from(a)));
  });

  it('carries across the 32-bit words of the i64 sums when merging', () => {
    // 2^23 · 3 · 2^21 per hi word: far past 2^32, so the merge must carry from the low word to the high one.
    const a = new StreamingFedAvg([2], { kernel });
    const b = new StreamingFedAvg([2], { kernel });
    const both = new StreamingFedAvg([2], { kernel });
    for (const [s, v, n] of [[a, 2 ** 23, 3], [b, 2 ** 23 - 1, 2 ** 20 + 1], [a, -12345.678, 7], [b, 0.1, 1]] as const) {
      s.add([Float32Array.from([v, -v])], n);
      both.add([Float32Array.from([v, -v])], n);
    }
    a.merge(b);
    expect(state(a)).toBe(state(both));
    expect(bits(a.result())).toBe(bits(both.result()));
  });

  it('toState and fromState carry a sum to another instance, which goes on and merges exactly', () => {
    const us = updates(4, 100, 5);
    const s = new StreamingFedAvg([100, 3], { kernel, maxAbsExponent: 20 });
    for (const u of us.slice(0, 2)) s.add(u.weights, u.numExamples);
    const st = s.toState();
    expect(st).toMatchObject({ lengths: [100, 3], maxAbsExponent: 20, count: 2, totalExamples: us[0].numExamples + us[1].numExamples });
    expect(st.sums.byteLength).toBe(16 * 103);
    const copy = StreamingFedAvg.fromState(structuredClone(st), { kernel: kernel === 'js' ? 'wasm' : 'js' });
    expect(copy.maxAbsExponent).toBe(20);
    expect(bits(copy.result())).toBe(bits(s.result()));
    for (const u of us.slice(2)) {
      s.add(u.weights, u.numExamples);
      copy.add(u.weights, u.numExamples);
    }
    expect(state(copy)).toBe(state(s));
  });

  it('refuses states that are not a sum’s, and merges of another layout, grid or itself', () => {
    const s = new StreamingFedAvg([2], { kernel });
    s.add([Float32Array.from([1, 2])], 3);
    const st = s.toState();
    const malformed: Array<[Partial<StreamingFedAvgState>, RegExp]> = [
      [{ lengths: [-1] }, /lengths/],
      [{ lengths: [1.5] }, /lengths/],
      [{ lengths: 'x' as unknown as number[] }, /lengths/],
      [{ sums: new Uint8Array(31) }, /32 bytes/],
      [{ sums: [1, 2] as unknown as Uint8Array }, /32 bytes/],
      [{ count: -1 }, /count/],
      [{ count: 2 ** 20 + 1, totalExamples: 2 ** 21 }, /count/],
      [{ count: 1.5 }, /count/],
      [{ totalExamples: 2 ** 41 }, /count/],
      [{ totalExamples: 0 }, /count/],
      [{ count: 0 }, /count/],
      [{ count: 4, totalExamples: 3 }, /count/],
      [{ maxAbsExponent: 200 }, /maxAbsExponent/],
    ];
    for (const [patch, why] of malformed) {
      expect(() => StreamingFedAvg.fromState({ ...st, ...patch }), JSON.stringify(patch)).toThrow(expect.objectContaining({ code: 'malformed_payload', message: expect.stringMatching(why) }));
    }
    expect(StreamingFedAvg.fromState({ ...st, count: 0, totalExamples: 0, sums: new Uint8Array(32) }).count).toBe(0);
    expect(() => s.merge(s)).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => s.merge(new StreamingFedAvg([3], { kernel }))).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(() => s.merge(new StreamingFedAvg([1, 1], { kernel }))).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    expect(() => s.merge(new StreamingFedAvg([2], { kernel, maxAbsExponent: 23 }))).toThrow(
      expect.objectContaining({ code: 'config', message: "the other sum's grid (maxAbsExponent 23) is not this sum's (24)" }),
    );
    expect(state(s)).toBe(`1/3/${Buffer.from(st.sums).toString('hex')}`);
  });

  it('holds at most 2^20 updates and fewer than 2^41 examples (the i64 sums cannot overflow)', () => {
    const full = StreamingFedAvg.fromState({ lengths: [1], maxAbsExponent: 24, count: 2 ** 20, totalExamples: 2 ** 20, sums: new Uint8Array(16) }, { kernel });
    const limit = expect.objectContaining({ code: 'invalid_count', message: 'one streaming sum holds at most 2^20 updates and fewer than 2^41 examples' });
    expect(() => full.add([Float32Array.from([1])], 1)).toThrow(limit);
    const one = new StreamingFedAvg([1], { kernel });
    one.add([Float32Array.from([1])], 1);
    expect(() => full.merge(one)).toThrow(limit);
    const heavy = StreamingFedAvg.fromState({ lengths: [1], maxAbsExponent: 24, count: 1, totalExamples: 2 ** 41 - 2, sums: new Uint8Array(16) }, { kernel });
    heavy.add([Float32Array.from([0])], 1);
    expect(() => heavy.add([Float32Array.from([0])], 1)).toThrow(limit);
    expect(heavy.count).toBe(2);
    const merged = new StreamingFedAvg([1], { kernel });
    merged.merge(heavy);
    expect(merged.totalExamples).toBe(2 ** 41 - 1);
  });
});

describe('which kernel sums', () => {
  it('wasm by default where it runs (as here), JS when asked', () => {
    expect(wasmSumAvailable()).toBe(true);
    expect(new StreamingFedAvg([3]).kernelKind).toBe('wasm');
    expect(new StreamingFedAvg([3], { kernel: 'auto' }).kernelKind).toBe('wasm');
    expect(new StreamingFedAvg([3], { kernel: 'wasm' }).kernelKind).toBe('wasm');
    expect(new StreamingFedAvg([3], { kernel: 'js' }).kernelKind).toBe('js');
  });
});
