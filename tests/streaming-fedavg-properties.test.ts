import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamingFedAvg } from '../shared/src/strategies/streaming-fedavg.ts';

// Property tests of the exact streaming sum (docs/performance.md#exact-streaming-fedavg): the wasm SIMD kernel
// and its JS twin agree bit for bit, no order or split into merged partial sums changes a bit, and the mean
// is within 1 float32 ulp + 2^(b−65) of the exact weighted mean (computed here with BigInt).

const SCALE = 2 ** 149; // every float32 times 2^149 is an integer

interface Update {
  weights: Float32Array[];
  n: number;
}

/** float32 values in ±2^b, with the awkward ones often: the bounds, subnormals, ±0, values just inside the bound. */
function value(b: number): fc.Arbitrary<number> {
  const max = 2 ** b;
  const edges = [max, -max, Math.fround(max * (1 - 2 ** -24)), 2 ** -149, -(2 ** -149), 2 ** -126, 0, -0, 1, -1];
  return fc.oneof(
    { weight: 3, arbitrary: fc.float({ min: Math.fround(-max), max: Math.fround(max), noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(...edges.filter((e) => Math.abs(e) <= max)) },
    { weight: 1, arbitrary: fc.float({ min: Math.fround(-Math.min(1e-30, max)), max: Math.fround(Math.min(1e-30, max)), noNaN: true }) },
  );
}

const count = fc.oneof(fc.integer({ min: 1, max: 2 ** 29 - 1 }), fc.constantFrom(1, 2, 2 ** 29 - 1), fc.integer({ min: 1, max: 1000 }));

function updatesOf(b: number, lengths: number[], maxUpdates: number): fc.Arbitrary<Update[]> {
  const update = fc.record({
    weights: fc.tuple(...lengths.map((n) => fc.array(value(b), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a)))),
    n: count,
  });
  return fc.array(update, { minLength: 1, maxLength: maxUpdates });
}

const exponent = fc.constantFrom(24, 0, -64, 10, 100, 126);
const layout = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 }).filter((ls) => ls.some((n) => n > 0));

function sum(lengths: number[], b: number, kernel: 'wasm' | 'js', us: Update[]): StreamingFedAvg {
  const s = new StreamingFedAvg(lengths, { maxAbsExponent: b, kernel });
  for (const u of us) s.add(u.weights, u.n);
  return s;
}

function stateHex(s: StreamingFedAvg): string {
  return Buffer.from(s.toState().sums).toString('hex');
}

function bits(ws: Float32Array[]): string {
  return ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('|');
}

function ulp32(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -149;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - 23);
}

/** |got − Σ n·w / Σ n| ≤ ulp32(got) + 2^(b−65), exactly, in BigInt. */
function withinBound(got: number, column: Array<{ w: number; n: number }>, b: number): boolean {
  let s = 0n;
  let total = 0n;
  for (const { w, n } of column) {
    s += BigInt(n) * BigInt(w * SCALE);
    total += BigInt(n);
  }
  const diff = BigInt(got * SCALE) * total - s;
  const bound = (BigInt(ulp32(got) * SCALE) + BigInt(2 ** (b - 65) * SCALE)) * total;
  return (diff < 0n ? -diff : diff) <= bound;
}

describe('streaming FedAvg properties', () => {
  it('the wasm kernel and the JS one give the same state and the same bits', () => {
    fc.assert(
      fc.property(
        exponent.chain((b) => layout.chain((lengths) => fc.tuple(fc.constant(b), fc.constant(lengths), updatesOf(b, lengths, 6)))),
        ([b, lengths, us]) => {
          const w = sum(lengths, b, 'wasm', us);
          const j = sum(lengths, b, 'js', us);
          expect(stateHex(w)).toBe(stateHex(j));
          expect(bits(w.result())).toBe(bits(j.result()));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any order and any split into merged partial sums give the same bits', () => {
    fc.assert(
      fc.property(
        exponent.chain((b) => layout.chain((lengths) => fc.tuple(fc.constant(b), fc.constant(lengths), updatesOf(b, lengths, 8)))).chain(([b, lengths, us]) =>
          fc.tuple(fc.constant(b), fc.constant(lengths), fc.constant(us), fc.shuffledSubarray(us.map((_, i) => i), { minLength: us.length, maxLength: us.length }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: us.length, maxLength: us.length })),
        ),
        ([b, lengths, us, order, part]) => {
          const whole = sum(lengths, b, 'wasm', us);
          const parts = [0, 1, 2, 3].map((p) => new StreamingFedAvg(lengths, { maxAbsExponent: b, kernel: p % 2 ? 'js' : 'wasm' }));
          for (const i of order) parts[part[i]].add(us[i].weights, us[i].n);
          const merged = new StreamingFedAvg(lengths, { maxAbsExponent: b });
          for (const p of parts) if (p.count > 0) merged.merge(p);
          expect(stateHex(merged)).toBe(stateHex(whole));
          expect(bits(merged.result())).toBe(bits(whole.result()));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is within 1 float32 ulp + 2^(b−65) of the exact weighted mean, adversarial magnitudes included', () => {
    fc.assert(
      fc.property(
        exponent.chain((b) => fc.tuple(fc.constant(b), updatesOf(b, [4], 12))),
        ([b, us]) => {
          const got = sum([4], b, 'wasm', us).result()[0];
          for (let i = 0; i < 4; i++) {
            const column = us.map((u) => ({ w: u.weights[0][i], n: u.n }));
            expect(withinBound(got[i], column, b), `b ${b}, index ${i}: ${got[i]} vs ${JSON.stringify(column)}`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stays exact over many updates of the largest values and counts (the i64 sums do not overflow)', () => {
    for (const kernel of ['wasm', 'js'] as const) {
      const b = 24;
      const s = new StreamingFedAvg([3], { kernel });
      const column: Array<Array<{ w: number; n: number }>> = [[], [], []];
      for (let k = 0; k < 3000; k++) {
        const n = k % 3 === 0 ? 2 ** 29 - 1 : 1 + ((k * 7919) % 1000);
        const w = [2 ** b * (k % 2 ? 1 : -1), k % 5 === 0 ? -(2 ** b) : 2 ** b, Math.fround((k % 11) * 2 ** -140)];
        s.add([Float32Array.from(w)], n);
        w.forEach((v, i) => column[i].push({ w: Math.fround(v), n }));
      }
      const got = s.result()[0];
      for (let i = 0; i < 3; i++) expect(withinBound(got[i], column[i], b), `${kernel} index ${i}`).toBe(true);
      // The first column's exact mean is not 0 (the counts differ) and is found to the float32 bit.
      expect(got[0]).not.toBe(0);
    }
  });

  it('a refused update (NaN, ±Infinity or out of range anywhere) leaves the sum bit for bit as it was', () => {
    fc.assert(
      fc.property(
        layout.chain((lengths) => fc.tuple(fc.constant(lengths), updatesOf(24, lengths, 4), updatesOf(24, lengths, 1), fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 ** 24 + 2, -3e38))),
        ([lengths, before, [victim], where, bad]) => {
          for (const kernel of ['wasm', 'js'] as const) {
            const s = sum(lengths, 24, kernel, before);
            const state = stateHex(s);
            const flat = lengths.flatMap((n, t) => Array.from({ length: n }, (_, i) => [t, i]));
            const [t, i] = flat[where % flat.length];
            const weights = victim.weights.map((w) => w.slice());
            weights[t][i] = bad;
            expect(() => s.add(weights, victim.n)).toThrow(expect.objectContaining({ code: 'non_finite', message: expect.stringContaining(`in tensor ${t} at index ${i}`) }));
            expect(stateHex(s)).toBe(state);
            expect(s.count).toBe(before.length);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
