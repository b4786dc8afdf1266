import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { normalQuantile } from '../../shared/src/robustness/certification/normal-quantile.ts';
import { inverseRegularizedIncompleteBeta, logGamma, regularizedIncompleteBeta } from '../../shared/src/robustness/certification/incomplete-beta.ts';
import { clopperPearsonLower } from '../../shared/src/robustness/certification/clopper-pearson.ts';
import { thrown } from '../helpers/thrown.ts';

// Reference values: scipy 1.17 (scipy.stats.norm.ppf, scipy.special.betainc / gammaln, scipy.stats.beta.ppf).
const NORMAL_PPF: Array<[number, number]> = [
  [1e-300, -37.0470962993612], [1e-100, -21.273453560965322], [1e-20, -9.262340089798409], [1e-10, -6.361340902404056],
  [1e-5, -4.264890793922825], [0.001, -3.090232306167813], [0.02, -2.053748910631823], [0.02425, -1.972961051311885],
  [0.025, -1.9599639845400545], [0.075, -1.4395314709384563], [0.0749, -1.4402382675279635], [0.25, -0.6744897501960817],
  [0.4, -0.2533471031357997], [0.5, 0], [0.5000001, 2.506628273311648e-7], [0.6, 0.2533471031357997], [0.9, 1.2815515655446004],
  [0.975, 1.959963984540054], [0.97575, 1.972961051311885], [0.999, 3.090232306167813], [0.99999, 4.264890793923841],
  [0.9999999999, 6.361340889697422],
  // Around the switch between AS 241's two tail approximations: sqrt(−ln p) = 5.
  [1.3887943864964021e-11, -6.657904643501104], [1.3889332659350517e-11, -6.657889942627787], [1.3886555070577525e-11, -6.657919345813438],
];

const INCOMPLETE_BETA: Array<[number, number, number, number]> = [
  [0.4, 2, 3, 0.5247999999999999], [0.1, 0.5, 0.5, 0.20483276469913345], [0.9, 0.5, 0.5, 0.7951672353008665],
  [0.3, 10, 20, 0.3640040810719437], [0.7, 10, 20, 0.9999828580828269], [0.5, 100, 100, 0.4999999999999996],
  [0.49, 1000, 1000, 0.1855526594315119], [0.99, 990, 11, 0.5830408033010972], [0.05, 1, 1, 0.05],
  [0.2, 3.5, 1.5, 0.007652769572403681], [0.8, 1.5, 3.5, 0.9923472304275962], [1e-5, 2, 2, 2.999980000000001e-10],
];

const BETA_PPF: Array<[number, number, number, number]> = [
  [0.001, 100, 1, 0.933254300796991], [0.001, 99, 2, 0.9113731112960424], [0.001, 500, 501, 0.45077105398478234],
  [0.05, 50, 51, 0.41362171463091174], [0.3, 2.5, 7.5, 0.16694327320179275], [1e-6, 3, 4, 0.003694265299405909],
  [0.999, 10, 3, 0.9827785245544991], [0.001, 99990, 11, 0.9997586773435911], [0.001, 1, 100000, 1.000500328578529e-8],
  [0.5, 1, 3, 0.20629947401590026], [0.01, 9990, 11, 0.9979865536780006], [0.001, 900, 101, 0.8674640180257484],
];

describe('normalQuantile (Wichura AS 241)', () => {
  it.each(NORMAL_PPF)('Φ⁻¹(%s) = %s to 1e-8 (relative in the far tail)', (p, expected) => {
    expect(Math.abs(normalQuantile(p) - expected)).toBeLessThanOrEqual(1e-8 * Math.max(1, Math.abs(expected)));
  });

  it('is antisymmetric about 1/2 and infinite at the ends', () => {
    // Values whose 1 − p is exact in binary floating point.
    for (const p of [2 ** -30, 0.0078125, 0.3125, 0.4375]) expect(normalQuantile(1 - p)).toBeCloseTo(-normalQuantile(p), 10);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
  });

  it.each([-0.1, 1.1, NaN])('refuses p = %s with a config error', (p) => {
    const e = thrown(() => normalQuantile(p));
    expect(e.code).toBe('config');
    expect(e.message).toBe(`normal quantile of ${p}: p must be in [0, 1]`);
  });
});

describe('logGamma and the regularized incomplete beta', () => {
  it.each([[1e-8, 18.42068073818021], [0.01, 4.599479878042022], [0.3, 1.0957979948180756], [0.1, 2.252712651734206], [0.5, 0.5723649429247], [1, 0], [1.5, -0.12078223763524526], [2, 0], [3.7, 1.428072326665388], [10, 12.801827480081469], [100.5, 361.43554046777757], [1e5, 1051287.7089736569]])(
    'ln Γ(%s) = %s',
    (x, expected) => {
      expect(Math.abs(logGamma(x) - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)));
    },
  );

  it.each(INCOMPLETE_BETA)('I_%s(%s, %s) = %s', (x, a, b, expected) => {
    expect(Math.abs(regularizedIncompleteBeta(x, a, b) - expected)).toBeLessThanOrEqual(1e-10 * Math.max(expected, 1e-3));
  });

  it('is 0 at x = 0 and 1 at x = 1, and exact in the far tail', () => {
    expect(regularizedIncompleteBeta(0, 3, 4)).toBe(0);
    expect(regularizedIncompleteBeta(1, 3, 4)).toBe(1);
    const tail = regularizedIncompleteBeta(0.999, 99990, 11);
    expect(Math.abs(tail / 1.0924478414689557e-30 - 1)).toBeLessThan(1e-6);
  });

  it.each(BETA_PPF)('beta.ppf(%s, %s, %s) = %s to 1e-8', (p, a, b, expected) => {
    expect(Math.abs(inverseRegularizedIncompleteBeta(p, a, b) - expected)).toBeLessThanOrEqual(1e-8 * Math.max(expected, 1e-3));
  });

  it('inverts the incomplete beta (round trip) and is 0 / 1 at p = 0 / 1', () => {
    for (const [a, b] of [[2, 3], [0.7, 4.2], [50, 7], [300, 200]]) {
      for (const p of [1e-9, 0.01, 0.3, 0.5, 0.9, 0.999]) expect(regularizedIncompleteBeta(inverseRegularizedIncompleteBeta(p, a, b), a, b)).toBeCloseTo(p, 10);
    }
    expect(inverseRegularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(inverseRegularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });

  it.each([
    ['x < 0', () => regularizedIncompleteBeta(-0.1, 2, 3), 'incomplete beta at x=-0.1: x must be in [0, 1]'],
    ['x > 1', () => regularizedIncompleteBeta(1.1, 2, 3), 'incomplete beta at x=1.1: x must be in [0, 1]'],
    ['a = 0', () => regularizedIncompleteBeta(0.5, 0, 3), 'beta shapes must be finite and > 0, got a=0, b=3'],
    ['b = 0', () => regularizedIncompleteBeta(0.5, 3, 0), 'beta shapes must be finite and > 0, got a=3, b=0'],
    ['b < 0', () => inverseRegularizedIncompleteBeta(0.5, 2, -1), 'beta shapes must be finite and > 0, got a=2, b=-1'],
    ['a infinite', () => inverseRegularizedIncompleteBeta(0.5, Infinity, 1), 'beta shapes must be finite and > 0, got a=Infinity, b=1'],
    ['b infinite', () => regularizedIncompleteBeta(0.5, 1, Infinity), 'beta shapes must be finite and > 0, got a=1, b=Infinity'],
    ['p > 1', () => inverseRegularizedIncompleteBeta(1.5, 2, 3), 'beta quantile of p=1.5: p must be in [0, 1]'],
    ['p < 0', () => inverseRegularizedIncompleteBeta(-0.1, 2, 3), 'beta quantile of p=-0.1: p must be in [0, 1]'],
    ['p NaN', () => inverseRegularizedIncompleteBeta(NaN, 2, 3), 'beta quantile of p=NaN: p must be in [0, 1]'],
    ['Γ(0)', () => logGamma(0), 'log-gamma of 0: x must be > 0'],
  ])('refuses %s with a config error', (_, fn, message) => {
    const e = thrown(fn);
    expect(e.code).toBe('config');
    expect(e.message).toBe(message);
  });

  it('uses the closed forms exactly at shape 1, and the bisection everywhere else', () => {
    expect(inverseRegularizedIncompleteBeta(0.3, 4, 1)).toBe(0.3 ** 0.25);
    expect(inverseRegularizedIncompleteBeta(0.3, 1, 4)).toBe(-Math.expm1(Math.log1p(-0.3) / 4));
    // Beta(2, 2) has the CDF 3x² − 2x³.
    const x = inverseRegularizedIncompleteBeta(0.2, 2, 2);
    expect(3 * x * x - 2 * x * x * x).toBeCloseTo(0.2, 14);
  });
});

describe('clopperPearsonLower (one-sided, as Cohen et al. use it)', () => {
  it.each([
    [990, 1000, 0.001, 0.9760361871553114],
    [1000, 1000, 0.001, 0.9931160484209338],
    [500, 1000, 0.001, 0.45077105398478234],
    [1, 10, 0.05, 0.005116196891823701],
    [7, 10, 0.05, 0.39337578389458766],
    [95, 100, 0.01, 0.8741482693023214],
    [99990, 100000, 0.001, 0.9997586773435911],
  ])('k=%s of n=%s at α=%s: %s', (k, n, alpha, expected) => {
    expect(Math.abs(clopperPearsonLower(k, n, alpha) - expected)).toBeLessThanOrEqual(1e-8);
  });

  it('n = 1: the bound of one success is α, of none 0', () => {
    expect(clopperPearsonLower(1, 1, 0.05)).toBeCloseTo(0.05, 15);
    expect(clopperPearsonLower(0, 1, 0.05)).toBe(0);
  });

  it('is 0 with no successes and α^(1/n) with all', () => {
    expect(clopperPearsonLower(0, 50, 0.05)).toBe(0);
    expect(clopperPearsonLower(50, 50, 0.05)).toBeCloseTo(0.05 ** (1 / 50), 14);
  });

  it('is the bound whose binomial tail is exactly α: P(X ≥ k | p = bound) = α', () => {
    // P(Bin(n, p) ≥ k) = I_p(k, n − k + 1): the defining property, checked by a direct binomial sum.
    for (const [k, n, alpha] of [[3, 12, 0.05], [18, 20, 0.01], [6, 9, 0.2]]) {
      const p = clopperPearsonLower(k, n, alpha);
      let tail = 0;
      for (let j = k; j <= n; j++) {
        let logChoose = 0;
        for (let i = 1; i <= j; i++) logChoose += Math.log((n - j + i) / i);
        tail += Math.exp(logChoose + j * Math.log(p) + (n - j) * Math.log1p(-p));
      }
      expect(tail).toBeCloseTo(alpha, 10);
    }
  });

  it('grows with k and with α', () => {
    expect(clopperPearsonLower(8, 10, 0.05)).toBeGreaterThan(clopperPearsonLower(7, 10, 0.05));
    expect(clopperPearsonLower(8, 10, 0.1)).toBeGreaterThan(clopperPearsonLower(8, 10, 0.05));
  });

  it.each([
    [-1, 10, 0.05], [11, 10, 0.05], [1.5, 10, 0.05], [0, 0, 0.05], [1, 10, 0], [1, 10, 1], [1, 10, NaN],
  ])('refuses k=%s, n=%s, α=%s with a config error', (k, n, alpha) => {
    const e = thrown(() => clopperPearsonLower(k, n, alpha));
    expect(e.code).toBe('config');
    expect(e.message).toMatch(alpha > 0 && alpha < 1 ? `Clopper–Pearson needs integer counts 0 ≤ k ≤ n, n ≥ 1; got k=${k}, n=${n}` : `Clopper–Pearson α must be in (0, 1), got ${alpha}`);
  });
});
