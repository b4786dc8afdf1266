import { describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights, FedtuneError, type Weights } from '@fedtune/shared';

function sample(): Weights {
  const a = new Float32Array([1.5, -2.25, Number.MIN_VALUE, -0, 3.4028234663852886e38, NaN, Infinity, -Infinity]);
  const b = new Float32Array(12).map((_, i) => Math.fround(Math.sin(i) * 1e-3));
  return {
    manifest: [
      { name: 'dense/kernel', shape: [2, 4], dtype: 'float32' },
      { name: 'empty', shape: [0, 3], dtype: 'float32' },
      { name: 'dense/bias', shape: [3, 4], dtype: 'float32' },
    ],
    arrays: [a, new Float32Array(0), b],
  };
}

function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('weights codec', () => {
  it('round-trips bit-exactly, including NaN, ±0, infinities and empty tensors', () => {
    const w = sample();
    const decoded = decodeWeights(encodeWeights(w));
    expect(decoded.manifest).toEqual(w.manifest);
    expect(decoded.arrays.map(bitsOf)).toEqual(w.arrays.map(bitsOf));
  });

  it('decodes views at every byte offset (odd offsets are copied into aligned memory)', () => {
    const w = sample();
    const bytes = encodeWeights(w);
    for (let offset = 0; offset < 8; offset++) {
      const backing = new Uint8Array(bytes.length + offset + 5);
      backing.set(bytes, offset);
      const view = backing.subarray(offset, offset + bytes.length);
      const decoded = decodeWeights(view);
      expect(decoded.arrays.map(bitsOf)).toEqual(w.arrays.map(bitsOf));
    }
  });

  it('decodes a Node Buffer slice from a shared pool', () => {
    const w = sample();
    const bytes = encodeWeights(w);
    const pool = Buffer.alloc(bytes.length + 3);
    Buffer.from(bytes).copy(pool, 3);
    expect(decodeWeights(pool.subarray(3)).arrays.map(bitsOf)).toEqual(w.arrays.map(bitsOf));
  });

  it('writes no JSON number arrays: the payload is header + 4 bytes per value', () => {
    const w = { manifest: [{ name: 'x', shape: [1000], dtype: 'float32' as const }], arrays: [new Float32Array(1000).fill(0.123456)] };
    const bytes = encodeWeights(w);
    expect(bytes.length).toBeLessThan(4000 + 100);
    expect(new TextDecoder().decode(bytes)).not.toContain('0.123');
  });

  it('rejects truncated, corrupted and mismatched payloads with a typed error', () => {
    const bytes = encodeWeights(sample());
    const cases: Array<[Uint8Array, RegExp]> = [
      [bytes.subarray(0, bytes.length - 1), /bytes, header implies/],
      [bytes.subarray(0, 4), /too short/],
      [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), /magic/],
    ];
    const badHeader = bytes.slice();
    badHeader[10] = 0x7b; // corrupt JSON
    cases.push([badHeader, /header/]);
    for (const [input, reason] of cases) {
      const err = (() => {
        try {
          decodeWeights(input);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(FedtuneError);
      expect((err as FedtuneError).message).toMatch(reason);
    }
    expect(() => encodeWeights({ manifest: [{ name: 'x', shape: [3], dtype: 'float32' }], arrays: [new Float32Array(2)] })).toThrow(/expected 3 values/);
  });
});
