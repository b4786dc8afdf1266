import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deltaNormChecked, deltaNormCheckedJs } from '../../coordinator/src/engine/validate-fit-result.ts';
import { deltaNormCheckedWasm, wasmDeltaNormAvailable } from '../../coordinator/src/engine/delta-norm/delta-norm-wasm.ts';

/** Bit patterns of a float64, for exact comparison (toBe treats +0 and -0 alike only via Object.is). */
const bits = (x: number) => {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  return v.getBigUint64(0);
};

/** A deterministic pseudo-random float32 tensor (mulberry32). */
function tensor(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
}

describe('deltaNormChecked on the wasm SIMD kernel (delta-norm.wat)', () => {
  it('runs here (Node has wasm SIMD)', () => {
    expect(wasmDeltaNormAvailable()).toBe(true);
  });

  // Every lane of the four-wide loop and every tail length, in several tensors (partial sums carry over).
  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 100, 1001, 4099])('gives the exact bits of the JS loop for tensors of %i values', (n) => {
    const w = [tensor(n, 1), tensor(n + 3, 2, 1e-3), tensor(7, 3, 100)];
    const g = [tensor(n, 4), tensor(n + 3, 5, 1e-3), tensor(7, 6, 100)];
    const js = deltaNormCheckedJs(w, g, 1e9);
    const wasm = deltaNormCheckedWasm(w, g, 1e9)!;
    expect(bits(wasm.sumOfSquares)).toBe(bits(js.sumOfSquares));
    expect(wasm.inRange).toBe(true);
    expect(deltaNormChecked(w, g, 1e9)).toEqual(js);
  });

  it('matches the JS loop bit for bit on arbitrary float32 tensors (property)', () => {
    const f32 = fc.float({ noDefaultInfinity: true, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.array(f32, { maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.float({ min: 0, noNaN: true }), (values, seed, maxAbs) => {
        const w = values.map((v) => Float32Array.from(v));
        const g = w.map((t, k) => tensor(t.length, seed + k, 10));
        const js = deltaNormCheckedJs(w, g, maxAbs);
        const wasm = deltaNormCheckedWasm(w, g, maxAbs)!;
        expect(bits(wasm.sumOfSquares)).toBe(bits(js.sumOfSquares));
        expect(wasm.inRange).toBe(js.inRange);
      }),
      { numRuns: 300 },
    );
  });

  // The largest |w| must come from every position: each lane of the vector part and the tail.
  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])('sees a value out of range, NaN or ±Infinity at position %i of 11', (at) => {
    const g = [new Float32Array(11)];
    for (const [bad, maxAbs] of [[5, 4], [-5, 4], [NaN, Infinity], [Infinity, Infinity], [-Infinity, Infinity]] as const) {
      const w = [new Float32Array(11).fill(1)];
      w[0][at] = bad;
      expect(deltaNormCheckedWasm(w, g, maxAbs)!.inRange, `${bad} at ${at}`).toBe(false);
      expect(deltaNormCheckedJs(w, g, maxAbs).inRange).toBe(false);
    }
    // At exactly the bound it is in range; just above it is not.
    const edge = [new Float32Array(11).fill(1)];
    edge[0][at] = -4;
    expect(deltaNormCheckedWasm(edge, g, 4)!.inRange).toBe(true);
    expect(deltaNormCheckedWasm(edge, g, Math.fround(4) - 2 ** -21)!.inRange).toBe(false);
  });

  it('keeps the largest |w| over tensors (the largest may be in any tensor), and a NaN over a larger value', () => {
    const g = [new Float32Array(5), new Float32Array(3)];
    expect(deltaNormCheckedWasm([new Float32Array([0, 0, 0, 0, 0]), new Float32Array([0, 3, 0])], g, 2)!.inRange).toBe(false);
    expect(deltaNormCheckedWasm([new Float32Array([0, 3, 0, 0, 0]), new Float32Array([0, 0, 0])], g, 2)!.inRange).toBe(false);
    expect(deltaNormCheckedWasm([new Float32Array([0, 3e38, 0, 0, 0]), new Float32Array([NaN, 0, 0])], g, Infinity)!.inRange).toBe(false);
    expect(deltaNormCheckedWasm([new Float32Array([0, 1, 0, 0, 0]), new Float32Array([0, 2, 0])], g, 2)).toEqual({ sumOfSquares: 5, inRange: true });
  });

  it('starts every call from zero: a previous update leaves no sum and no largest value behind', () => {
    const g = [new Float32Array(6)];
    expect(deltaNormCheckedWasm([new Float32Array([100, 0, 0, 0, 0, 100])], g, 1000)!.sumOfSquares).toBe(20000);
    expect(deltaNormCheckedWasm([new Float32Array([1, 0, 0, 0, 0, 1])], g, 10)).toEqual({ sumOfSquares: 2, inRange: true });
  });

  it('grows its memory for a large tensor, then still reads a small one exactly (no stale values past its end)', () => {
    const n = 300_001; // 2.4 MB of update + global: more than the kernel's first page
    const big = [tensor(n, 7)];
    const bigG = [tensor(n, 8)];
    expect(bits(deltaNormCheckedWasm(big, bigG, 10)!.sumOfSquares)).toBe(bits(deltaNormCheckedJs(big, bigG, 10).sumOfSquares));
    const small = [new Float32Array([3, 0, 0, 0, 4])];
    expect(deltaNormCheckedWasm(small, [new Float32Array(5)], 10)).toEqual({ sumOfSquares: 25, inRange: true });
  });

  it('returns undefined when the layouts differ (the caller falls back to the JS loop)', () => {
    expect(deltaNormCheckedWasm([new Float32Array(3)], [new Float32Array(3), new Float32Array(1)], 1)).toBeUndefined();
    expect(deltaNormCheckedWasm([new Float32Array(3)], [new Float32Array(4)], 1)).toBeUndefined();
  });

  it('measures the difference from the global model, not the weights themselves', () => {
    const w = [new Float32Array([10, 10, 10, 10, 10])];
    const g = [new Float32Array([10, 10, 7, 10, 6])];
    expect(deltaNormCheckedWasm(w, g, 10)).toEqual({ sumOfSquares: 25, inRange: true });
  });
});

describe('deltaNormCheckedJs (the fallback and oracle) at the range bound', () => {
  it('a weight of exactly maxAbs is in range, the next float above it is not; both sides of the four-wide loop', () => {
    for (const at of [0, 2, 5]) {
      const w = new Float32Array(6);
      w[at] = 4;
      expect(deltaNormCheckedJs([w], [new Float32Array(6)], 4)).toEqual({ sumOfSquares: 16, inRange: true });
      w[at] = Math.fround(4 + 2 ** -21);
      expect(deltaNormCheckedJs([w], [new Float32Array(6)], 4).inRange).toBe(false);
    }
  });
});
