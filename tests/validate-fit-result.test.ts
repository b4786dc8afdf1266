// @ts-nocheck
// 
import { describe, expect, it } from 'vitest';
import { validateFitResult, type FitResultContext } from '@fedtune/coordinator';
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
