import { describe, expect, it } from 'vitest';
import { tenthsText } from '../../coordinator/src/report/tenths-text.ts';
import { mulberry32 } from '../helpers/mulberry32.ts';

// tenthsText must print exactly what report.html's charts printed before it: (Math.round(x * 10) / 10).toString().
const reference = (x: number) => (Math.round(x * 10) / 10).toString();


const EDGES: Array<[string, number]> = [
  ['0', 0],
  ['−0', -0],
  ['a tiny negative that rounds to −0', -0.04],
  ['half a tenth, up', 0.05],
  ['just under half a tenth', 0.049999999999999996],
  ['−half a tenth (rounds up to −0)', -0.05],
  ['a negative', -12.34],
  ['a whole number', 48],
  ['the frame edge', 410],
  ['x.x5 that floats below', 1.005 * 100],
  ['0.1 + 0.2', 0.1 + 0.2],
  ['the largest tenth kept', 2000],
  ['just past it', 2000.06],
  ['far past it', 123_456.78],
  ['huge', 1e21],
  ['tiny', 1e-7],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['−Infinity', Number.NEGATIVE_INFINITY],
  ['MAX_VALUE', Number.MAX_VALUE],
];

describe('tenthsText', () => {
  for (const [name, x] of EDGES) {
    it(`${name}: the reference's text`, () => {
      expect(tenthsText(x)).toBe(reference(x));
      expect(tenthsText(x)).toBe(reference(x)); // once cached too
    });
  }

  it('every tenth from −50 to 2,050 and the values halfway between them, as the reference prints them', () => {
    for (let n = -500; n <= 20_500; n++) {
      for (const x of [n / 10, (n + 0.5) / 10, n / 10 + 1e-9, n / 10 - 1e-9]) if (tenthsText(x) !== reference(x)) expect([x, tenthsText(x)]).toEqual([x, reference(x)]);
    }
  });

  it('200,000 random chart coordinates (0–600, −100–2,100 and any magnitude) as the reference prints them', () => {
    const next = mulberry32(20261206);
    for (let i = 0; i < 200_000; i++) {
      const x = i % 3 === 0 ? next() * 600 : i % 3 === 1 ? next() * 2200 - 100 : (next() - 0.5) * 10 ** Math.floor(next() * 30 - 10);
      if (tenthsText(x) !== reference(x)) expect([x, tenthsText(x)]).toEqual([x, reference(x)]);
    }
  });
});
