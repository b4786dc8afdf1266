import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertSameLayout, decodeWeights, encodeWeights, FedtuneError, WEIGHTS_LIMITS, type Weights, type WeightSpec } from '@fedtune/shared';

/** Property runs per property; fixed seeds keep a failure reproducible (fast-check prints the seed and path). */
const RUNS = 300;

const spec: fc.Arbitrary<WeightSpec> = fc.record({
  name: fc.string({ unit: 'binary', maxLength: 40 }),
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
  dtype: fc.constant('float32' as const),
});

/** Any float32 bit pattern: NaNs with payloads, ±0, subnormals and infinities included. */
const floats = (n: number) => fc.uint32Array({ minLength: n, maxLength: n }).map((bits) => new Float32Array(bits.buffer));

const weights: fc.Arbitrary<Weights> = fc
  .array(spec, { maxLength: 6 })
  .chain((manifest) => fc.tuple(...manifest.map((s) => floats(s.shape.reduce((a, b) => a * b, 1)))).map((arrays) => ({ manifest, arrays })));

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** The only acceptable way for decode to fail: a FedtuneError with a codec or dtype code and a short message. */
function expectTypedRefusal(err: unknown): void {
  expect(err).toBeInstanceOf(FedtuneError);
  expect(['codec', 'dtype_mismatch']).toContain((err as FedtuneError).code);
  expect((err as FedtuneError).message.length).toBeLessThanOrEqual(400);
}

function decodeOrRefuse(bytes: Uint8Array): Weights | undefined {
  try {
    return decodeWeights(bytes);
  } catch (err) {
    expectTypedRefusal(err);
    return undefined;
  }
}

describe('weights codec properties', () => {
  it('round-trips any manifest and any float32 bits exactly, with the exact payload size', () => {
    fc.assert(
      fc.property(weights, (w) => {
        const bytes = encodeWeights(w);
        const header = new TextEncoder().encode(JSON.stringify({ specs: w.manifest }));
        const values = w.arrays.reduce((n, a) => n + a.length, 0);
        expect(bytes.length).toBe(((8 + header.length + 3) & ~3) + 4 * values);
        const decoded = decodeWeights(bytes);
        expect(decoded.manifest).toEqual(w.manifest);
        expect(decoded.arrays.map(bits)).toEqual(w.arrays.map(bits));
        expect(() => assertSameLayout(w.manifest, decoded)).not.toThrow();
      }),
      { numRuns: RUNS, seed: 11 },
    );
  });

  it('decodes at any byte offset: a view when the data is aligned, an independent copy when it is not', () => {
    fc.assert(
      fc.property(weights, fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 7 }), (w, offset, tail) => {
        const bytes = encodeWeights(w);
        const backing = new Uint8Array(offset + bytes.length + tail);
        backing.set(bytes, offset);
        const decoded = decodeWeights(backing.subarray(offset, offset + bytes.length));
        expect(decoded.arrays.map(bits)).toEqual(w.arrays.map(bits));
        const values = w.arrays.reduce((n, a) => n + a.length, 0);
        const dataOffset = bytes.length - 4 * values;
        for (const a of decoded.arrays) {
          if (a.length === 0) continue;
          expect(a.byteOffset % 4).toBe(0);
          expect(a.buffer === backing.buffer).toBe((offset + dataOffset) % 4 === 0);
        }
      }),
      { numRuns: RUNS, seed: 12 },
    );
  });

  it('never throws anything but a typed, bounded FedtuneError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => void decodeOrRefuse(bytes)),
      { numRuns: 2000, seed: 13 },
    );
  });

  it('never throws anything but a typed error on a valid prefix with an arbitrary JSON header and data', () => {
    const header = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.array(fc.anything({ maxDepth: 3 }), { maxLength: 4 }).map((specs) => JSON.stringify({ specs })),
      fc.array(fc.record({ name: fc.anything({ maxDepth: 1 }), shape: fc.anything({ maxDepth: 2 }), dtype: fc.anything({ maxDepth: 1 }) }, { requiredKeys: [] }), { maxLength: 4 }).map((specs) => JSON.stringify({ specs })),
      fc.array(fc.record({ name: fc.string(), shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 4 }), fc.double(), fc.constant(2 ** 31)), { maxLength: 10 }), dtype: fc.constantFrom('float32', 'int32') }), { maxLength: 4 }).map((specs) => JSON.stringify({ specs })),
    );
    fc.assert(
      fc.property(header, fc.integer({ min: -8, max: 8 }), fc.uint8Array({ maxLength: 64 }), (json, lengthDelta, data) => {
        const h = new TextEncoder().encode(json);
        const out = new Uint8Array(8 + h.length + data.length);
        out.set([0x46, 0x54, 0x57, 0x31]);
        new DataView(out.buffer).setUint32(4, Math.max(0, h.length + lengthDelta), true);
        out.set(h, 8);
        out.set(data, 8 + h.length);
        const decoded = decodeOrRefuse(out);
        if (decoded) {
          // Whatever is accepted is a well-formed layout that covers the payload exactly.
          for (const [i, s] of decoded.manifest.entries()) {
            expect(s.dtype).toBe('float32');
            expect(s.shape.length).toBeLessThanOrEqual(WEIGHTS_LIMITS.maxRank);
            expect(s.shape.every((d) => Number.isInteger(d) && d >= 0 && d <= WEIGHTS_LIMITS.maxDim && !Object.is(d, -0))).toBe(true);
            expect(decoded.arrays[i].length).toBe(s.shape.reduce((a, b) => a * b, 1));
          }
        }
      }),
      { numRuns: 1500, seed: 14 },
    );
  });

  it('a valid payload with any one byte changed, or cut anywhere, is decoded consistently or refused with a typed error', () => {
    fc.assert(
      fc.property(weights, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (w, at, xor, cut) => {
        const bytes = encodeWeights(w);
        const flipped = bytes.slice();
        flipped[at % bytes.length] ^= xor;
        const decoded = decodeOrRefuse(flipped);
        if (decoded) expect(decoded.arrays.reduce((n, a) => n + a.length * 4, 0)).toBeLessThanOrEqual(bytes.length);
        const shorter = bytes.subarray(0, cut % bytes.length);
        expect(() => decodeWeights(shorter)).toThrow(FedtuneError);
      }),
      { numRuns: RUNS, seed: 15 },
    );
  });

  it('assertSameLayout accepts exactly the same shapes and refuses any other shape, even with the same size', () => {
    const shapes = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
    fc.assert(
      fc.property(shapes, shapes, (a, b) => {
        const global = [{ name: 't', shape: a, dtype: 'float32' as const }];
        const size = b.reduce((x, y) => x * y, 1);
        const update = { manifest: [{ name: 't', shape: b, dtype: 'float32' as const }], arrays: [new Float32Array(size)] };
        const same = a.length === b.length && a.every((d, i) => d === b[i]);
        if (same) expect(() => assertSameLayout(global, update)).not.toThrow();
        else expect(() => assertSameLayout(global, update)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
      }),
      { numRuns: RUNS, seed: 16 },
    );
    // The permutations of one size, explicitly: none of them is accepted for another.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 }), (dims) => {
        const reversed = [...dims].reverse();
        fc.pre(reversed.some((d, i) => d !== dims[i]));
        const global = [{ name: 't', shape: dims, dtype: 'float32' as const }];
        const update = { manifest: [{ name: 't', shape: reversed, dtype: 'float32' as const }], arrays: [new Float32Array(dims.reduce((x, y) => x * y, 1))] };
        expect(() => assertSameLayout(global, update)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
      }),
      { numRuns: 100, seed: 17 },
    );
  });
});
