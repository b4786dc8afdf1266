import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: the mutation run (`npm run mutation -- temperature-scaling`) loads these fast.
import { fitTemperature, scaledProbabilities, searchTemperature, temperatureNll, temperatureStats } from '../../shared/src/robustness/calibration/temperature-scaling.ts';
import { TEMPERATURE_RANGE } from '../../shared/src/robustness/calibration/temperature-search.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * Temperature scaling on a few hand-made examples, against the textbook formulas written out naively
 * (no max-subtraction): exact values, every validation message, the numerically hard cases. Fast: the
 * mutation run's test file for temperature-scaling.ts (temperature-scaling.test.ts holds the statistical checks).
 */

/** NLL, d/dβ and d²/dβ² of −log softmax(β·z)_y for one row, naively. */
function naive(z: number[], y: number, beta: number): { nll: number; grad: number; hess: number } {
  const e = z.map((v) => Math.exp(beta * v));
  const sum = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / sum);
  const mean = p.reduce((a, pc, c) => a + pc * z[c], 0);
  const variance = p.reduce((a, pc, c) => a + pc * (z[c] - mean) ** 2, 0);
  return { nll: Math.log(sum) - beta * z[y], grad: mean - z[y], hess: variance };
}

const rows = [
  [2, 0, -1],
  [0.5, 1.5, 0.25],
  [-3, 4, 1],
];
const labels = [1, 0, 1];
const flat = rows.flat();

describe('temperatureStats: sums of the NLL and its β-derivatives, exactly', () => {
  it.each([0.01, 0.5, 1, 3, 100])('equals the naive formulas summed over three rows at β = %s', (beta) => {
    const [s] = temperatureStats(flat, labels, [beta]);
    const want = rows.map((z, i) => naive(z, labels[i], beta)).reduce((a, b) => ({ nll: a.nll + b.nll, grad: a.grad + b.grad, hess: a.hess + b.hess }));
    expect(s.nll).toBeCloseTo(want.nll, 10);
    expect(s.grad).toBeCloseTo(want.grad, 10);
    expect(s.hess).toBeCloseTo(want.hess, 10);
  });

  it('answers each β of a query in order, independently', () => {
    const both = temperatureStats(flat, labels, [0.5, 2]);
    expect(both).toHaveLength(2);
    expect(both[0]).toEqual(temperatureStats(flat, labels, [0.5])[0]);
    expect(both[1]).toEqual(temperatureStats(flat, labels, [2])[0]);
    expect(both[0].nll).not.toBe(both[1].nll);
  });

  it('a single row, two classes: the closed form', () => {
    // z = (a, 0), label 1: NLL = log(1 + e^{βa}), grad = a·σ(βa), hess = a²·σ(βa)(1 − σ(βa)).
    const a = 2;
    const beta = 0.7;
    const sig = 1 / (1 + Math.exp(-beta * a));
    const [s] = temperatureStats([a, 0], [1], [beta]);
    expect(s.nll).toBeCloseTo(Math.log(1 + Math.exp(beta * a)), 14);
    expect(s.grad).toBeCloseTo(a * sig, 14);
    expect(s.hess).toBeCloseTo(a * a * sig * (1 - sig), 14);
  });

  it('stays finite on logits whose exponentials overflow (the max is subtracted)', () => {
    // z = (1000, 0), label 0: NLL = log(1 + e^{−1000}) ≈ 0, grad = −1000·(1 − σ(1000)) ≈ 0, hess ≈ 0.
    const [right] = temperatureStats([1000, 0], [0], [1]);
    expect(right).toEqual({ nll: 0, grad: 0, hess: 0 });
    // label 1: NLL = 1000 exactly, grad = 1000.
    const [wrong] = temperatureStats([1000, 0], [1], [1]);
    expect(wrong.nll).toBe(1000);
    expect(wrong.grad).toBe(1000);
    // Negative logits only: the max is negative, not 0.
    const [neg] = temperatureStats([-1000, -1001], [0], [1]);
    expect(neg.nll).toBeCloseTo(Math.log(1 + Math.exp(-1)), 12);
  });

  it('no examples: zero sums', () => {
    expect(temperatureStats([], [], [1, 2])).toEqual([{ nll: 0, grad: 0, hess: 0 }, { nll: 0, grad: 0, hess: 0 }]);
  });
});

describe('temperatureNll', () => {
  it('is the mean NLL of softmax(z / T)', () => {
    const want = rows.reduce((n, z, i) => n + naive(z, labels[i], 1 / 2.5).nll, 0) / rows.length;
    expect(temperatureNll(flat, labels, 2.5)).toBeCloseTo(want, 12);
    expect(temperatureNll([Math.log(3), 0], [0], 1)).toBeCloseTo(Math.log(4 / 3), 14);
  });

  it('validates its input as fitTemperature does', () => {
    expect(thrownCodeAndMessage(() => temperatureNll([1, 2], [5], 1)).code).toBe('data');
  });
});

describe('scaledProbabilities', () => {
  it('is softmax(z / T) row by row', () => {
    const p = scaledProbabilities(flat, 3, 2);
    expect(p).toHaveLength(9);
    rows.forEach((z, i) => {
      const e = z.map((v) => Math.exp(v / 2));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, c) => expect(p[i * 3 + c]).toBeCloseTo(v / sum, 6));
    });
  });

  it('is exact on a two-class row and finite on huge logits', () => {
    expect(Array.from(scaledProbabilities([Math.log(3), 0], 1, 1)).map((v) => Number(v.toFixed(6)))).toEqual([0.75, 0.25]);
    expect(Array.from(scaledProbabilities([2000, 0, -2000, 0], 2, 1))).toEqual([1, 0, 0, 1]);
    // The max is taken of the scaled logits: at T = 0.5, 1000 / T = 2000 (1000 · T would overflow the exponentials).
    expect(Array.from(scaledProbabilities([1000, 0, 0, 1000], 2, 0.5))).toEqual([1, 0, 0, 1]);
    expect(Array.from(scaledProbabilities([-2000, -2001], 1, 1)).map((v) => Number(v.toFixed(6)))).toEqual([Number((1 / (1 + Math.exp(-1))).toFixed(6)), Number((1 / (1 + Math.exp(1))).toFixed(6))]);
  });

  it('no rows: an empty array', () => {
    expect(scaledProbabilities([], 0, 1)).toHaveLength(0);
  });
});

describe('fitTemperature: validation, each message', () => {
  it.each<[string, () => unknown, { code: string; message: string }]>([
    ['no examples', () => fitTemperature([], []), { code: 'data', message: 'temperature scaling needs at least one labeled example' }],
    ['3 logits for 2 rows', () => fitTemperature([1, 2, 3], [0, 1]), { code: 'shape_mismatch', message: '3 logits do not form 2 rows of at least 2 classes' }],
    ['one class', () => fitTemperature([1, 2], [0, 0]), { code: 'shape_mismatch', message: '2 logits do not form 2 rows of at least 2 classes' }],
    ['label = k', () => fitTemperature([1, 2, 3, 4], [0, 2]), { code: 'data', message: 'label 2 of example 1 is not a class in [0, 2)' }],
    ['label −1', () => fitTemperature([1, 2], [-1]), { code: 'data', message: 'label -1 of example 0 is not a class in [0, 2)' }],
    ['label 0.5', () => fitTemperature([1, 2], [0.5]), { code: 'data', message: 'label 0.5 of example 0 is not a class in [0, 2)' }],
    ['NaN logit', () => fitTemperature([1, 2, 3, NaN], [0, 1]), { code: 'non_finite', message: 'logit 3 is not finite' }],
    ['infinite logit', () => fitTemperature([Infinity, 0], [0]), { code: 'non_finite', message: 'logit 0 is not finite' }],
  ])('refuses %s', (_name, fn, want) => {
    expect(thrownCodeAndMessage(fn)).toEqual(want);
  });

  it('accepts the largest label and exactly two classes', () => {
    expect(() => fitTemperature([0, 1, 1, 0], [1, 0])).not.toThrow();
  });
});

describe('fitTemperature and searchTemperature: exact optima', () => {
  it('the closed form: (a, 0) labels 0, 0, 1 → p = 2/3, β·a = ln 2', () => {
    expect(fitTemperature([2, 0, 2, 0, 2, 0], [0, 0, 1])).toBeCloseTo(2 / Math.log(2), 9);
    expect(fitTemperature([3, 0, 3, 0, 3, 0, 3, 0], [0, 0, 0, 1])).toBeCloseTo(3 / Math.log(3), 9);
  });

  it('the default range is TEMPERATURE_RANGE; a given range is used', () => {
    expect(fitTemperature([2, 0], [1])).toBe(TEMPERATURE_RANGE.max);
    expect(fitTemperature([2, 0], [1], { min: 0.5, max: 3 })).toBe(3);
    expect(fitTemperature([2, 0, 2, 0, 2, 0], [0, 0, 1], { min: 0.5, max: 2 })).toBe(2);
  });

  it('searchTemperature gives the same T from the stats, sync or async, and passes the range on', async () => {
    const data = { logits: [2, 0, 2, 0, 2, 0], labels: [0, 0, 1] };
    let asked = 0;
    const sync = await searchTemperature((betas) => {
      asked++;
      return temperatureStats(data.logits, data.labels, betas);
    });
    expect(sync).toBe(fitTemperature(data.logits, data.labels));
    expect(asked).toBeGreaterThan(1);
    expect(await searchTemperature(async (betas) => temperatureStats(data.logits, data.labels, betas))).toBe(sync);
    expect(await searchTemperature((betas) => temperatureStats(data.logits, data.labels, betas), { min: 0.5, max: 2 })).toBe(2);
    expect(await searchTemperature((betas) => temperatureStats([2, 0], [1], betas))).toBe(TEMPERATURE_RANGE.max);
  });
});
