import { describe, expect, it } from 'vitest';
import { deltaNorm, deltaNormChecked, firstNonFinite, firstOutOfRange, validateFitResult, type FitResultContext } from '../coordinator/src/engine/validate-fit-result.ts';
import { encodeWeights, type FitResult } from '@fedtune/shared';

const manifest = [
  { name: 'k', shape: [2, 2], dtype: 'float32' as const },
  { name: 'b', shape: [2], dtype: 'float32' as const },
];
const global = [new Float32Array([0, 0, 0, 0]), new Float32Array([0, 0])];
const ctx: FitResultContext = {
  runId: 'r',
  round: 3,
  selected: new Set(['a', 'b']),
  alreadyReceived: new Set(['b']),
  manifest,
  maxExamples: 1000,
  maxUpdateBytes: 10_000,
  global,
  maxUpdateNorm: 10,
};

function result(over: Partial<FitResult> = {}, arrays = [new Float32Array([1, 2, 3, 4]), new Float32Array([0.5, -0.5])]): FitResult {
  // The manifest is derived from the arrays, so a mis-shaped update encodes consistently (as a buggy site would send it).
  const m = [{ ...manifest[0], shape: arrays[0].length === 4 ? [2, 2] : [arrays[0].length] }, manifest[1]];
  return { runId: 'r', round: 3, siteId: 'a', weights: encodeWeights({ manifest: m, arrays }), numExamples: 10, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 5, ...over };
}

describe('update validation', () => {
  it('accepts a valid update and returns its decoded weights', () => {
    const v = validateFitResult('a', result(), ctx);
    expect(v.ok).toBe(true);
    if (v.ok) expect(Array.from(v.weights[0])).toEqual([1, 2, 3, 4]);
  });

  it.each([
    ['another run', 'a', result({ runId: 'old' }), 'stale_round'],
    ['another round', 'a', result({ round: 2 }), 'stale_round'],
    ['a site that was not selected', 'c', result(), 'not_selected'],
    ['a second result from a site', 'b', result(), 'duplicate_result'],
    ['zero examples', 'a', result({ numExamples: 0 }), 'invalid_count'],
    ['a fractional count', 'a', result({ numExamples: 2.5 }), 'invalid_count'],
    ['a count over the cap', 'a', result({ numExamples: 1001 }), 'invalid_count'],
    ['a payload over the size limit', 'a', result({ weights: new Uint8Array(10_001) }), 'payload_too_large'],
    ['bytes that are not weights', 'a', result({ weights: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) }), 'malformed_payload'],
    ['a wrong shape', 'a', result({}, [new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([0, 0])]), 'shape_mismatch'],
    ['NaN', 'a', result({}, [new Float32Array([1, NaN, 3, 4]), new Float32Array([0, 0])]), 'non_finite'],
    ['+Infinity', 'a', result({}, [new Float32Array([1, 2, 3, 4]), new Float32Array([Infinity, 0])]), 'non_finite'],
    ['an update norm over the bound', 'a', result({}, [new Float32Array([10, 2, 3, 4]), new Float32Array([0, 0])]), 'update_norm'],
  ] as const)('rejects %s', (_what, siteId, r, code) => {
    const v = validateFitResult(siteId, r, ctx);
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.code).toBe(code);
      expect(v.reason.length).toBeGreaterThan(10);
    }
    // the valid update next to it in the same round is still accepted
    expect(validateFitResult('a', result(), ctx).ok).toBe(true);
  });

  it('rejects a non-float32 dtype in the header', () => {
    const bytes = encodeWeights({ manifest, arrays: [new Float32Array(4), new Float32Array(2)] });
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + new DataView(bytes.buffer).getUint32(4, true)));
    const tampered = new Uint8Array(bytes);
    tampered.set(new TextEncoder().encode(text.replace('"float32"', '"float64"').replace('"float32"', '"float32"')), 8);
    const v = validateFitResult('a', result({ weights: tampered }), ctx);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.code).toBe('dtype_mismatch');
  });
});

describe('update validation: exact reasons and boundaries', () => {
  const refused = (siteId: string, r: FitResult, c: FitResultContext = ctx) => {
    const v = validateFitResult(siteId, r, c);
    expect(v.ok).toBe(false);
    return v as { ok: false; code: string; reason: string };
  };

  it('names what is wrong in each refusal', () => {
    expect(refused('a', result({ runId: 'old' }))).toEqual({ ok: false, code: 'stale_round', reason: 'result is for run old, this run is r' });
    // A peer's run id is quoted on one line (a newline or an escape would forge a log line) and clipped at 128.
    expect(refused('a', result({ runId: 'x\n\u001b[2Jy' }))).toEqual({ ok: false, code: 'stale_round', reason: 'result is for run x [2Jy, this run is r' });
    expect(refused('a', result({ runId: 'r'.repeat(129) })).reason).toBe(`result is for run ${'r'.repeat(128)}… (1 more characters), this run is r`);
    expect(refused('a', result({ runId: 'q'.repeat(128) })).reason).toBe(`result is for run ${'q'.repeat(128)}, this run is r`);
    expect(refused('a', result({ round: 2 }))).toEqual({ ok: false, code: 'stale_round', reason: 'result is for round 2, the current round is 3' });
    expect(refused('c', result())).toEqual({ ok: false, code: 'not_selected', reason: 'site c was not selected for round 3' });
    expect(refused('b', result())).toEqual({ ok: false, code: 'duplicate_result', reason: 'site b already sent a result for round 3' });
    expect(refused('a', result({ weights: new Uint8Array(10_001) }))).toEqual({ ok: false, code: 'payload_too_large', reason: 'update is 10001 bytes, the limit is 10000' });
    expect(refused('a', result({ numExamples: -3 }))).toEqual({ ok: false, code: 'invalid_count', reason: 'number of examples must be an integer in 1..1000' });
    expect(refused('a', result({ numExamples: 6 }), { ...ctx, announced: 5 })).toEqual({ ok: false, code: 'invalid_count', reason: 'site a claims more examples than the 5 it announced at hello' });
    const norm = Math.hypot(10, 2, 3, 4, 0.5, -0.5);
    expect(refused('a', result({}, [new Float32Array([10, 2, 3, 4]), new Float32Array([0.5, -0.5])]))).toEqual({
      ok: false,
      code: 'update_norm',
      reason: `update norm ${norm.toPrecision(4)} exceeds the bound 10`,
    });
  });

  it('names the tensor and index of the first non-finite value, by its manifest name', () => {
    const nan = refused('a', result({}, [new Float32Array([1, 2, 3, 4]), new Float32Array([0, -Infinity])]));
    expect(nan).toEqual({ ok: false, code: 'non_finite', reason: 'update has a non-finite value (-Infinity) in b at index 1' });
    const first = refused('a', result({}, [new Float32Array([1, 2, NaN, Infinity]), new Float32Array([NaN, 0])]));
    expect(first.reason).toBe('update has a non-finite value (NaN) in k at index 2');
  });

  // A streamed round passes the exact sum's range (StreamingFedAvg.maxAbs): checked in the norm's pass.
  it.each([
    { what: 'with the global model (the norm pass)', global },
    { what: 'without it (the range pass alone)', global: undefined },
  ])('maxAbs: refuses |w| above it as non_finite, accepts it exactly, and names the first bad value — $what', ({ global: g }) => {
    const c = { ...ctx, global: g, maxUpdateNorm: undefined, maxAbs: 16 };
    expect(refused('a', result({}, [new Float32Array([1, 2, 3, 4]), new Float32Array([0, -17])]), c)).toEqual({
      ok: false,
      code: 'non_finite',
      reason: 'update has a value (-17) outside ±16 in b at index 1',
    });
    expect(refused('a', result({}, [new Float32Array([1, 16.5, NaN, 4]), new Float32Array([0, 0])]), c).reason).toBe('update has a value (16.5) outside ±16 in k at index 1');
    expect(refused('a', result({}, [new Float32Array([1, NaN, 99, 4]), new Float32Array([0, 0])]), c).reason).toBe('update has a non-finite value (NaN) in k at index 1');
    expect(refused('a', result({}, [new Float32Array([1, 2, 3, Infinity]), new Float32Array([0, 0])]), c).reason).toBe('update has a non-finite value (Infinity) in k at index 3');
    expect(validateFitResult('a', result({}, [new Float32Array([16, -16, 0, 1]), new Float32Array([0, 0])]), c)).toMatchObject({ ok: true });
    // Without maxAbs any finite value passes.
    expect(validateFitResult('a', result({}, [new Float32Array([3e38, -3e38, 0, 1]), new Float32Array([0, 0])]), { ...c, maxAbs: undefined })).toMatchObject({ ok: true });
  });

  it('deltaNormChecked gives ‖w − g‖² and whether all values are finite and within maxAbs, in one pass', () => {
    const g = [new Float32Array([1, 1]), new Float32Array([0])];
    expect(deltaNormChecked([new Float32Array([4, 1]), new Float32Array([-4])], g, 4)).toEqual({ sumOfSquares: 25, inRange: true });
    expect(deltaNormChecked([new Float32Array([4, 1]), new Float32Array([-4.5])], g, 4)).toEqual({ sumOfSquares: 9 + 4.5 ** 2, inRange: false });
    expect(deltaNormChecked([new Float32Array([4, 1]), new Float32Array([-4.5])], g, Infinity).inRange).toBe(true);
    expect(deltaNormChecked([new Float32Array([NaN, 1]), new Float32Array([0])], g, Infinity).inRange).toBe(false);
    expect(deltaNormChecked([new Float32Array([1, -Infinity]), new Float32Array([0])], g, Infinity).inRange).toBe(false);
    // The largest value counts wherever it is, also before smaller ones.
    expect(deltaNormChecked([new Float32Array([5, 1]), new Float32Array([0])], g, 4).inRange).toBe(false);
    // A NaN after the largest value still makes the update out of range.
    expect(deltaNormChecked([new Float32Array([3, 1]), new Float32Array([NaN])], g, 4).inRange).toBe(false);
    expect(firstOutOfRange([new Float32Array([1, -2]), new Float32Array([2.5, NaN])], 2)).toEqual({ tensor: 1, index: 0 });
    expect(firstOutOfRange([new Float32Array([1, -2]), new Float32Array([2, 0])], 2)).toBeUndefined();
  });

  // deltaNormChecked reads four values per step, then the rest one by one: every lane and the tail must count.
  const LENGTHS = [1, 3, 4, 5, 7, 8, 9, 13];
  it.each(LENGTHS)('deltaNormChecked over a tensor of %i values: every position contributes its square and its range', (n) => {
    const global = [new Float32Array(n).fill(1), new Float32Array([2])];
    for (let at = 0; at < n; at++) {
      const w = new Float32Array(n).fill(1);
      w[at] = 1 + 3; // a difference of 3 at this position only
      expect(deltaNormChecked([w, new Float32Array([6])], global, 10)).toEqual({ sumOfSquares: 9 + 16, inRange: true });
      for (const bad of [NaN, Infinity, -Infinity, 11, -11]) {
        const v = new Float32Array(n).fill(1);
        v[at] = bad;
        expect(deltaNormChecked([v, new Float32Array([2])], global, 10).inRange, `${bad} at ${at} of ${n}`).toBe(false);
      }
      // The bound itself is in range, at every position (|w| ≤ maxAbs, inclusive).
      const edge = new Float32Array(n).fill(0);
      edge[at] = -10;
      expect(deltaNormChecked([edge, new Float32Array([2])], global, 10).inRange).toBe(true);
    }
  });

  it('deltaNormChecked matches a plain running sum on a model-sized update (float64 accumulation, any order within rounding)', () => {
    const sizes = [784 * 3 + 1, 5, 30, 10];
    let x = 1;
    const rand = () => ((x = (x * 48271) % 2147483647) / 2147483647) - 0.5;
    const w = sizes.map((k) => new Float32Array(k).map(rand));
    const g = sizes.map((k) => new Float32Array(k).map(rand));
    let plain = 0;
    for (let t = 0; t < w.length; t++) for (let i = 0; i < w[t].length; i++) plain += (w[t][i] - g[t][i]) ** 2;
    const got = deltaNormChecked(w, g, 0.5);
    expect(got.inRange).toBe(true);
    expect(got.sumOfSquares).toBeCloseTo(plain, 9);
    expect(deltaNormChecked(w, g, 0.49).inRange).toBe(false);
  });

  it('takes the limits themselves: maxUpdateBytes, maxExamples, the announced count and the norm bound are inclusive', () => {
    const r = result();
    expect(validateFitResult('a', r, { ...ctx, maxUpdateBytes: r.weights.byteLength }).ok).toBe(true);
    expect(refused('a', r, { ...ctx, maxUpdateBytes: r.weights.byteLength - 1 }).code).toBe('payload_too_large');
    expect(validateFitResult('a', result({ numExamples: 1000 }), ctx).ok).toBe(true);
    expect(validateFitResult('a', result({ numExamples: 1 }), ctx).ok).toBe(true);
    expect(validateFitResult('a', result({ numExamples: 5 }), { ...ctx, announced: 5 }).ok).toBe(true);
    expect(validateFitResult('a', result({ numExamples: 50 }), { ...ctx, announced: undefined }).ok).toBe(true);
    // ‖(3, 4, 0, 0, 0, 0)‖ = 5 exactly.
    const five = result({}, [new Float32Array([3, 4, 0, 0]), new Float32Array([0, 0])]);
    expect(validateFitResult('a', five, { ...ctx, maxUpdateNorm: 5 })).toMatchObject({ ok: true, norm: 5 });
    expect(refused('a', five, { ...ctx, maxUpdateNorm: 4.999 }).code).toBe('update_norm');
    // Without global weights there is no norm, and so no bound to apply; without a bound the norm is still reported.
    expect(validateFitResult('a', five, { ...ctx, global: undefined, maxUpdateNorm: 1 })).toMatchObject({ ok: true, norm: undefined });
    expect(validateFitResult('a', five, { ...ctx, maxUpdateNorm: undefined })).toMatchObject({ ok: true, norm: 5 });
  });

  it('returns the decoded weights, the count and ‖w − global‖ over all tensors', () => {
    const g = [new Float32Array([1, 1, 1, 1]), new Float32Array([0, 1])];
    const v = validateFitResult('a', result({ numExamples: 7 }, [new Float32Array([1, 3, 1, 1]), new Float32Array([0, -1])]), { ...ctx, global: g });
    expect(v).toEqual({ ok: true, weights: [new Float32Array([1, 3, 1, 1]), new Float32Array([0, -1])], numExamples: 7, norm: Math.SQRT2 * 2 });
    expect(deltaNorm([new Float32Array([4]), new Float32Array([0, 0, 12])], [new Float32Array([1]), new Float32Array([0, 0, 8])])).toBe(5);
    expect(firstNonFinite([new Float32Array([0, 1]), new Float32Array([2, Infinity])])).toEqual({ tensor: 1, index: 1 });
    expect(firstNonFinite([new Float32Array([0, 1]), new Float32Array([])])).toBeUndefined();
  });

  it('keeps the codes of layout and dtype errors, and files codec errors as malformed payloads', () => {
    const wrong = refused('a', result({}, [new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([0, 0])]));
    expect(wrong.code).toBe('shape_mismatch');
    expect(wrong.reason).toMatch(/\bk\b/);
    const garbage = refused('a', result({ weights: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) }));
    expect(garbage.code).toBe('malformed_payload');
    expect(garbage.reason.length).toBeGreaterThan(10);
  });
});
