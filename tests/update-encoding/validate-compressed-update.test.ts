import { describe, expect, it } from 'vitest';
import { validateFitResult, type FitResultContext } from '../../coordinator/src/engine/validate-fit-result.ts';
import { checkUpdateEncodingConfig, updateEncodingRecord } from '../../coordinator/src/engine/update-encoding.ts';
import { encodeUpdate, encodeWeights, type FitResult, type UpdateEncoding, type WeightArrays } from '@fedtune/shared';
import { thrown } from '../helpers/thrown.ts';

const manifest = [
  { name: 'k', shape: [2, 2], dtype: 'float32' as const },
  { name: 'b', shape: [2], dtype: 'float32' as const },
];
const global = [new Float32Array([1, -1, 0.5, 2]), new Float32Array([0, 3])];
const local = [new Float32Array([1.5, -1.25, 0.5, 2.125]), new Float32Array([-0.5, 3])];

function ctx(updateEncoding: UpdateEncoding | undefined, over: Partial<FitResultContext> = {}): FitResultContext {
  return { runId: 'r', round: 1, selected: new Set(['a']), alreadyReceived: new Set(), manifest, maxExamples: 100, maxUpdateBytes: 10_000, global, maxUpdateNorm: 10, ...(updateEncoding ? { updateEncoding } : {}), ...over };
}

function result(weights: Uint8Array): FitResult {
  return { runId: 'r', round: 1, siteId: 'a', weights, numExamples: 10, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 5 };
}

const encoded = (encoding: UpdateEncoding, arrays: WeightArrays = local) => encodeUpdate({ manifest, arrays }, global, encoding, 9);

describe('a compressed update at the coordinator: decoded once, then validated like a float32 one', () => {
  it.each([['fp16'], ['int8']] as const)('%s: accepted as float32 weights global + delta, with its norm', (encoding) => {
    const v = validateFitResult('a', result(encoded(encoding)), ctx(encoding));
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.weights[0]).toBeInstanceOf(Float32Array);
    if (encoding === 'fp16') expect(v.weights.map((a) => Array.from(a))).toEqual(local.map((a) => Array.from(a)));
    for (let t = 0; t < 2; t++) for (let i = 0; i < local[t].length; i++) expect(Math.abs(v.weights[t][i] - local[t][i])).toBeLessThanOrEqual(0.5 / 127 + 1e-7);
    expect(v.norm).toBeGreaterThan(0.6);
  });

  it.each([
    ['a float32 update in an int8 run', encodeWeights({ manifest, arrays: local }), 'int8', 'update_encoding'],
    ['a float32 update in an fp16 run', encodeWeights({ manifest, arrays: local }), 'fp16', 'update_encoding'],
    ['an int8 update in a float32 run', encoded('int8'), 'float32', 'update_encoding'],
    ['an int8 update in a run without an encoding (float32)', encoded('int8'), undefined, 'update_encoding'],
    ['an fp16 update in an int8 run', encoded('fp16'), 'int8', 'update_encoding'],
    ['a truncated int8 update', encoded('int8').subarray(0, encoded('int8').length - 1), 'int8', 'malformed_payload'],
    ['an int8 update whose delta breaks the norm bound', encoded('int8', [new Float32Array([40, 0, 0, 0]), new Float32Array(2)]), 'int8', 'update_norm'],
    ['an fp16 update for another layout', encodeUpdate({ manifest: [{ ...manifest[0], name: 'x' }, manifest[1]], arrays: local }, global, 'fp16', 1), 'fp16', 'shape_mismatch'],
  ] as const)('refuses %s', (_, bytes, encoding, code) => {
    const v = validateFitResult('a', result(bytes), ctx(encoding));
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.code).toBe(code);
      expect(v.reason.length).toBeLessThan(400);
    }
  });

  it('refuses an int8 update with a NaN scale (non_finite), and one that decodes past the streamed range', () => {
    const bytes = encoded('int8');
    const at = (8 + new DataView(bytes.buffer).getUint32(4, true) + 3) & ~3;
    const bad = bytes.slice();
    new DataView(bad.buffer).setFloat32(at, NaN, true);
    const v = validateFitResult('a', result(bad), ctx('int8'));
    expect(v.ok ? undefined : v.code).toBe('non_finite');
    const w = validateFitResult('a', result(bytes), ctx('int8', { maxAbs: 2 }));
    expect(w.ok ? undefined : w.code).toBe('non_finite');
  });
});

describe('the coordinator side of the update encoding', () => {
  it('refuses a compressed encoding with secure aggregation (sites would not use it)', () => {
    const secureAggregation = { clip: 1 } as never;
    for (const updateEncoding of ['fp16', 'int8'] as const) {
      const e = thrown(() => checkUpdateEncodingConfig({ train: { updateEncoding } as never, secureAggregation }));
      expect(e.code).toBe('config');
      expect(e.message).toContain(updateEncoding);
    }
    expect(() => checkUpdateEncodingConfig({ train: { updateEncoding: 'float32' } as never, secureAggregation })).not.toThrow();
    expect(() => checkUpdateEncodingConfig({ train: {} as never, secureAggregation })).not.toThrow();
    expect(() => checkUpdateEncodingConfig({ train: { updateEncoding: 'int8' } as never, secureAggregation: undefined })).not.toThrow();
  });

  it('records the mean bytes per accepted update against float32, only for compressed runs with updates', () => {
    expect(updateEncodingRecord({ updateEncoding: 'int8' }, [100, 300], 800)).toEqual({ encoding: 'int8', bytesPerUpdate: 200, float32BytesPerUpdate: 800, ratio: 0.25 });
    expect(updateEncodingRecord({ updateEncoding: 'fp16' }, [400], 800)).toEqual({ encoding: 'fp16', bytesPerUpdate: 400, float32BytesPerUpdate: 800, ratio: 0.5 });
    expect(updateEncodingRecord({ updateEncoding: 'int8' }, [], 800)).toBeUndefined();
    expect(updateEncodingRecord({ updateEncoding: 'float32' }, [800], 800)).toBeUndefined();
    expect(updateEncodingRecord({}, [800], 800)).toBeUndefined();
  });
});
