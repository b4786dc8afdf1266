import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@fedtune/shared';
import { plasmaFractal } from '../../shared/src/robustness/image-ops.ts';

/** The diamond-square fractal as it was written before the block draws: one rng.next() per cell, in loop order. */
function plasmaFractalReference(size: number, decay: number, rng: SeededRandom, cropWidth = size, cropHeight = size): Float32Array {
  const shift = Math.log2(size);
  const mask = size - 1;
  const map = new Float64Array(size * size);
  let step = size;
  let wibble = 100;
  while (step >= 2) {
    const half = step >> 1;
    const amp = wibble * wibble;
    for (let r = half; r < size; r += step) {
      const up = ((r - half) & mask) << shift;
      const down = ((r + half) & mask) << shift;
      for (let c = half; c < size; c += step) {
        const s = map[up | ((c - half) & mask)] + map[up | ((c + half) & mask)] + map[down | ((c - half) & mask)] + map[down | ((c + half) & mask)];
        map[(r << shift) | c] = s / 4 + amp * (2 * rng.next() - 1);
      }
    }
    for (let r = 0; r < size; r += half) {
      const row = r << shift;
      const up = ((r - half) & mask) << shift;
      const down = ((r + half) & mask) << shift;
      for (let c = (r / half) % 2 === 0 ? half : 0; c < size; c += step) {
        const s = map[up | c] + map[down | c] + map[row | ((c - half) & mask)] + map[row | ((c + half) & mask)];
        map[row | c] = s / 4 + amp * (2 * rng.next() - 1);
      }
    }
    step = half;
    wibble /= decay;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of map) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const w = Math.min(cropWidth, size);
  const h = Math.min(cropHeight, size);
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = hi > lo ? (map[(r << shift) | c] - lo) / (hi - lo) : 0;
  return out;
}

describe('SeededRandom.fillUniform', () => {
  it.each([0, 1, 42, 0x7fffffff, 0x80000000, 0xffffffff])('gives what next() gives, in order, and leaves the same state (seed %d)', (seed) => {
    const a = new SeededRandom(seed);
    const b = new SeededRandom(seed);
    const block = a.fillUniform(new Float64Array(1000));
    const one = Float64Array.from({ length: 1000 }, () => b.next());
    expect(block).toEqual(one);
    expect(a.state).toBe(b.state);
    expect(a.next()).toBe(b.next());
  });

  it('fills only `count` numbers and advances by that many', () => {
    const a = new SeededRandom(9);
    const b = new SeededRandom(9);
    const out = new Float64Array(10).fill(-1);
    a.fillUniform(out, 3);
    expect([...out.subarray(3)]).toEqual(new Array(7).fill(-1));
    expect([...out.subarray(0, 3)]).toEqual([b.next(), b.next(), b.next()]);
    expect(a.state).toBe(b.state);
  });
});

describe('plasmaFractal with block draws', () => {
  it.each([
    [2, 1.4, 1],
    [4, 1.4, 7],
    [16, 2, 3],
    [256, 1.4, 12345],
  ])('is bit-identical to one draw per cell (size %d, decay %d, seed %d), and consumes the same draws', (size, decay, seed) => {
    const a = new SeededRandom(seed);
    const b = new SeededRandom(seed);
    const crop = Math.min(size, 28);
    expect(plasmaFractal(size, decay, a, crop, crop)).toEqual(plasmaFractalReference(size, decay, b, crop, crop));
    expect(a.state).toBe(b.state);
  });
});
