import { describe, expect, it } from 'vitest';
import { ValueTextCache } from '../../coordinator/src/report/value-text-cache.ts';

// A memoised formatter prints exactly what the formatter does, first time and after, and stays bounded.
const FORMATTERS: Array<[string, (v: number) => string]> = [
  ['a loss to 4 decimals', (v) => v.toFixed(4)],
  ['an accuracy in % to 1 decimal', (v) => `${(100 * v).toFixed(1)}%`],
];

const VALUES = [0, -0, 1, -1, 0.5, 0.12345, 0.00005, -0.00005, 1.005, 0.1 + 0.2, 0.99995, 123.456789, 1e-7, -1e-7, 1e21, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, Number.POSITIVE_INFINITY];

describe('ValueTextCache', () => {
  for (const [name, format] of FORMATTERS) {
    it(`${name}: the formatter's text for edge and random values, on first use and from the cache`, () => {
      const cache = new ValueTextCache(format, 64);
      const values = [...VALUES, ...Array.from({ length: 2000 }, (_, i) => Math.sin(i * 12.9898) * 0.6 + 0.5)];
      for (let pass = 0; pass < 2; pass++) for (const v of values) if (cache.text(v) !== format(v)) expect([v, cache.text(v)]).toEqual([v, format(v)]);
    });
  }

  it('formats a value once while it is held, and starts afresh at its capacity', () => {
    let calls = 0;
    const cache = new ValueTextCache((v) => {
      calls++;
      return v.toFixed(2);
    }, 3);
    expect([cache.text(1), cache.text(1), cache.text(2), cache.text(3)]).toEqual(['1.00', '1.00', '2.00', '3.00']);
    expect(calls).toBe(3);
    expect(cache.text(4)).toBe('4.00'); // full: emptied, then 4 held
    expect(calls).toBe(4);
    expect(cache.text(1)).toBe('1.00');
    expect(calls).toBe(5);
  });
});
