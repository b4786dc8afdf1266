import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamingFedAvg } from '../shared/src/strategies/streaming-fedavg.ts';

// The streaming sum against an exact BigInt reference (docs/performance.md#exact-streaming-fedavg): with
// G = b − 21, a sum's integer per parameter must be T = Σ_k round_half_even(w_k · n_k · 2^(43 − G)), whatever
// the kernel, the path each update takes (small, general), the order of the updates and the layout (long
// tensors run the kernels' 16-wide loops, short ones their 4-wide and scalar tails). A NaN, ±Infinity or
// |w| > 2^b anywhere, or a count outside 1 … 2^29 − 1, is refused with its typed error and changes nothing.

const F32_SCALE = 2n ** 149n; // every float32 times 2^149 is an integer

/** round_half_even(num / 2^shift) for shift ≥ 0. */
function roundShift(num: bigint, shift: bigint): bigint {
  if (shift === 0n) return num;
  const d = 1n << shift;
  const neg = num < 0n;
  const a = neg ? -num : num;
  let q = a / d;
  const r = a - q * d;
  const half = d >> 1n;
  if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
  return neg ? -q : q;
}

/** The exact T of every parameter (tensors flattened) for updates on the grid of maxAbsExponent b. */
function referenceSums(updates: Array<{ weights: Float32Array[]; n: number }>, b: number): bigint[] {
  const g = BigInt(b - 21);
  // w · n · 2^(43 − G) = (w · 2^149) · n / 2^(149 + G − 43)
  const shift = 149n + g - 43n;
  const sums: bigint[] = [];
  for (const { weights, n } of updates) {
    let i = 0;
    for (const w of weights) {
      for (const v of w) {
        const num = BigInt(v * 2 ** 149) * BigInt(n);
        const term = shift >= 0n ? roundShift(num, shift) : num << -shift;
        sums[i] = (sums[i] ?? 0n) + term;
        i++;
      }
    }
  }
  return sums;
}

/** T = hi · 2^43 + lo of every parameter, from toState's words. */
function stateSums(s: StreamingFedAvg): bigint[] {
  const st = s.toState();
  const p = st.lengths.reduce((a, c) => a + c, 0);
  const words = new BigInt64Array(st.sums.slice().buffer);
  return Array.from({ length: p }, (_, i) => words[i] * 2n ** 43n + words[p + i]);
}

function bits(ws: Float32Array[]): string {
  return ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('|');
}

/** float32 in ±2^b with the awkward ones often: the bounds, subnormals, ±0, tiny values next to large ones. */
function value(b: number): fc.Arbitrary<number> {
  const max = Math.fround(2 ** b);
  const edges = [max, -max, Math.fround(max * (1 - 2 ** -24)), 2 ** -149, -(2 ** -149), 2 ** -126, 0, -0, 1, -1, 0.5].filter((e) => Math.abs(e) <= max);
  return fc.oneof(
    { weight: 3, arbitrary: fc.float({ min: -max, max, noNaN: true }) },
    { weight: 2, arbitrary: fc.float({ min: Math.fround(-Math.min(1, max)), max: Math.fround(Math.min(1, max)), noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(...edges) },
    { weight: 1, arbitrary: fc.float({ min: Math.fround(-Math.min(1e-30, max)), max: Math.fround(Math.min(1e-30, max)), noNaN: true }) },
  );
}

/** Counts from 1 to the cap 2^29 − 1, small ones often (the small path), large ones too (the general path). */
const count = fc.oneof(fc.integer({ min: 1, max: 2 ** 29 - 1 }), fc.constantFrom(1, 2, 2 ** 29 - 1), fc.integer({ min: 1, max: 100 }));

/** Layouts from one value to 70, in one to three tensors. */
const layout = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 3 }).filter((ls) => ls.some((n) => n > 0));

function updatesOf(b: number, lengths: number[], maxUpdates: number) {
  // Each update's values are drawn once, then spread over the layout (cheap for long tensors).
  const update = fc.record({ vs: fc.array(value(b), { minLength: 1, maxLength: 23 }), n: count });
  return fc.array(update, { minLength: 1, maxLength: maxUpdates }).map((us) =>
    us.map(({ vs, n }, k) => ({
      weights: lengths.map((len, t) => Float32Array.from({ length: len }, (_, i) => vs[(i * 7 + t * 3 + k) % vs.length])),
      n,
    })),
  );
}

const exponent = fc.constantFrom(24, 0, -64, 10, 100, 126);

describe.each(['wasm', 'js'] as const)('the streaming sum against the exact BigInt sum (%s kernel)', (kernel) => {
  it('holds exactly Σ round_half_even(w · n · 2^(43 − G)) per parameter, for any order of the updates', () => {
    fc.assert(
      fc.property(
        exponent.chain((b) => layout.chain((lengths) => fc.tuple(fc.constant(b), fc.constant(lengths), updatesOf(b, lengths, 12)))).chain((t) => fc.tuple(fc.constant(t), fc.nat())),
        ([[b, lengths, updates], seed]) => {
          const expected = referenceSums(updates, b);
          const forward = new StreamingFedAvg(lengths, { maxAbsExponent: b, kernel });
          for (const u of updates) forward.add(u.weights, u.n);
          expect(stateSums(forward)).toEqual(expected);
          // Another order (a rotation and a reversal, from the seed): the same integers, the same bits.
          const r = seed % updates.length;
          const other = [...updates.slice(r), ...updates.slice(0, r)].reverse();
          const backward = new StreamingFedAvg(lengths, { maxAbsExponent: b, kernel });
          for (const u of other) backward.add(u.weights, u.n);
          expect(stateSums(backward)).toEqual(expected);
          expect(bits(backward.result())).toBe(bits(forward.result()));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps it exact across carries: 5,000 updates at the small bound, then at the general one, one sign', () => {
    // Small: |w·n·2^-G| = 2^7 (n = 1024, |w| = 1); general: n = 2^29 − 1, |w| = 2^24 (the largest terms there are).
    const lengths = [21];
    const s = new StreamingFedAvg(lengths, { kernel });
    const updates: Array<{ weights: Float32Array[]; n: number }> = [];
    const w = Float32Array.from({ length: 21 }, (_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? -1 : Math.fround(1 / (i + 1))));
    for (let k = 0; k < 5000; k++) updates.push({ weights: [w], n: 1024 });
    const big = Float32Array.from(w, (v) => Math.sign(v) * 2 ** 24);
    for (let k = 0; k < 200; k++) updates.push({ weights: [big], n: 2 ** 29 - 1 });
    for (const u of updates) s.add(u.weights, u.n);
    expect(stateSums(s)).toEqual(referenceSums(updates, 24));
  });
});

describe.each(['wasm', 'js'] as const)('what the streaming sum refuses (%s kernel)', (kernel) => {
  it('a NaN, ±Infinity or |w| > 2^b anywhere (16-wide groups, 4-wide and scalar tails): non_finite, the sum unchanged', () => {
    fc.assert(
      fc.property(
        layout.chain((lengths) => fc.tuple(fc.constant(lengths), updatesOf(24, lengths, 3), updatesOf(24, lengths, 1), fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 ** 24 + 2, -(2 ** 25), 3e38))),
        ([lengths, before, [victim], where, bad]) => {
          const s = new StreamingFedAvg(lengths, { kernel });
          for (const u of before) s.add(u.weights, u.n);
          const state = Buffer.from(s.toState().sums).toString('hex');
          const flat = lengths.flatMap((n, t) => Array.from({ length: n }, (_, i) => [t, i]));
          const [t, i] = flat[where % flat.length];
          const weights = victim.weights.map((w) => w.slice());
          weights[t][i] = bad;
          const what = Number.isFinite(bad) ? 'a value' : 'a non-finite value';
          expect(() => s.add(weights, victim.n)).toThrow(expect.objectContaining({ code: 'non_finite', message: expect.stringContaining(`update has ${what}`) }));
          expect(() => s.add(weights, victim.n)).toThrow(expect.objectContaining({ message: expect.stringContaining(`in tensor ${t} at index ${i}`) }));
          expect(Buffer.from(s.toState().sums).toString('hex')).toBe(state);
          expect(s.count).toBe(before.length);
          // And it goes on summing exactly.
          s.add(victim.weights, victim.n);
          expect(stateSums(s)).toEqual(referenceSums([...before, victim], 24));
        },
      ),
      { numRuns: 100 },
    );
  });

  it.each([0, -1, 1.5, 2 ** 29, Number.NaN, Infinity])('a count of %s: invalid_count, the sum unchanged', (n) => {
    const s = new StreamingFedAvg([3], { kernel });
    s.add([Float32Array.from([1, 2, 3])], 4);
    const state = Buffer.from(s.toState().sums).toString('hex');
    expect(() => s.add([Float32Array.from([1, 2, 3])], n)).toThrow(expect.objectContaining({ code: 'invalid_count' }));
    expect(Buffer.from(s.toState().sums).toString('hex')).toBe(state);
    expect(s.count).toBe(1);
  });
});
