import { describe, expect, it } from 'vitest';
import { FedtuneError } from '../shared/src/errors.ts';
import { SeededRandom } from '../shared/src/random/seeded-random.ts';
import { weightedAverage } from '../shared/src/strategies/aggregate-fedavg.ts';
import { StreamingFedAvg } from '../shared/src/strategies/streaming-fedavg.ts';

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

describe('streaming FedAvg', () => {
  it('gives bit-identical weights whatever order the updates arrive in', () => {
    const us = updates(7, 5000, 1);
    const results = new Set<string>();
    const rng = new SeededRandom(2);
    for (let trial = 0; trial < 12; trial++) {
      const order = rng.shuffle([...us]);
      const acc = new StreamingFedAvg([5000, 3]);
      for (const u of order) acc.add(u.weights, u.numExamples);
      results.add(bits(acc.result()));
    }
    expect(results.size).toBe(1);
  });

  it('equals the weighted average to float32 precision', () => {
    const us = updates(5, 2000, 3);
    const acc = new StreamingFedAvg([2000, 3]);
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
    const acc = new StreamingFedAvg([2]);
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
      const s = new StreamingFedAvg([1]);
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
