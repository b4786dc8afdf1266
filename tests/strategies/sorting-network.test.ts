import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { SORT_BLOCK, sortedCoordinates, sortingNetwork } from '../../shared/src/strategies/strategy-math.ts';

/** Values that stress the integer ordering: negatives, ±0, ties, tiny and huge magnitudes, ±Infinity. */
function nastyColumns(rng: SeededRandom, n: number, len: number): Float32Array[] {
  const specials = [0, -0, 1, -1, 1e-30, -1e-30, 3e38, -3e38, Infinity, -Infinity, 0.5, -0.5];
  return Array.from({ length: n }, () =>
    Float32Array.from({ length: len }, () => (rng.next() < 0.3 ? specials[rng.int(specials.length)] : rng.normal() * 10 ** rng.int(6))),
  );
}

/** Numeric order with −0 before +0, as the network sorts. */
const byValue = (a: number, b: number) => a - b || (Object.is(a, -0) && Object.is(b, 0) ? -1 : Object.is(a, 0) && Object.is(b, -0) ? 1 : 0);

describe('sorting network (exact, branch-free coordinate sort)', () => {
  it('sorts every coordinate exactly for n = 1 … 40, across block boundaries', () => {
    const rng = new SeededRandom(99);
    const len = SORT_BLOCK + 37;
    for (let n = 1; n <= 40; n++) {
      const cols = nastyColumns(rng, n, len);
      const network = sortingNetwork(n);
      const rowsSeen: number[][] = Array.from({ length: len }, () => []);
      sortedCoordinates(cols, new Float32Array(len), network, (sorted, count, _out, start) => {
        for (let i = 0; i < count; i++) for (let p = 0; p < n; p++) rowsSeen[start + i].push(sorted[p * SORT_BLOCK + i]);
      });
      for (let i = 0; i < len; i++) {
        const expected = cols.map((c) => c[i]).sort(byValue);
        expect(rowsSeen[i]).toEqual(expected);
      }
    }
  });

  it('keeps exactly the requested positions when pruned (median and trimmed ranges)', () => {
    const rng = new SeededRandom(7);
    for (const n of [5, 10, 13, 32]) {
      const h = n >> 1;
      const keep = n % 2 ? [h] : [h - 1, h];
      const pruned = sortingNetwork(n, keep);
      expect(pruned.length).toBeLessThan(sortingNetwork(n).length);
      const cols = nastyColumns(rng, n, 300);
      sortedCoordinates(cols, new Float32Array(300), pruned, (sorted, count, _out, start) => {
        for (let i = 0; i < count; i++) {
          const expected = cols.map((c) => c[start + i]).sort(byValue);
          for (const p of keep) expect(sorted[p * SORT_BLOCK + i]).toBe(expected[p]);
        }
      });
    }
  });
});
