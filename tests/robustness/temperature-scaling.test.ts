import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { fitTemperature, searchTemperature, temperatureNll, temperatureStats, scaledProbabilities } from '../../shared/src/robustness/calibration/temperature-scaling.ts';
import { TEMPERATURE_RANGE, TemperatureSearch } from '../../shared/src/robustness/calibration/temperature-search.ts';
import { calibrationReport, CalibrationReportSchema } from '../../shared/src/robustness/calibration/calibration-report.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { thrown } from '../helpers/thrown.ts';

/**
 * n examples, k classes, from a perfectly calibrated model: logits z ~ N(0, scale²), the label drawn from
 * softmax(z). The logits returned are z · tStar, so the temperature that calibrates them is tStar.
 */
function calibratedData(n: number, k: number, tStar: number, seed: number, scale = 3): { logits: Float64Array; labels: Int32Array } {
  const rng = new SeededRandom(seed);
  const logits = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => rng.normal() * scale);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    let u = rng.next() * sum;
    let y = 0;
    while (y < k - 1 && u >= e[y]) u -= e[y++];
    labels[i] = y;
    for (let c = 0; c < k; c++) logits[i * k + c] = z[c] * tStar;
  }
  return { logits, labels };
}

/** The minimiser by a plain golden-section search on log T (an independent check of the Newton search). */
function goldenSectionTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>): number {
  let a = Math.log(TEMPERATURE_RANGE.min);
  let b = Math.log(TEMPERATURE_RANGE.max);
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (t: number) => temperatureNll(logits, labels, Math.exp(t));
  for (let i = 0; i < 200 && b - a > 1e-12; i++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (f(c) < f(d)) b = d;
    else a = c;
  }
  return Math.exp((a + b) / 2);
}

describe('fitTemperature (temperature scaling, Guo et al. 2017)', () => {
  it.each([0.5, 2, 4])('recovers the temperature T* = %s of logits scaled by T* from a calibrated model', (tStar) => {
    const { logits, labels } = calibratedData(4000, 10, tStar, 7);
    const t = fitTemperature(logits, labels);
    // Maximum likelihood on 4,000 examples: within a few percent of the truth.
    expect(Math.abs(t / tStar - 1)).toBeLessThan(0.06);
  });

  it('is exact: matches a golden-section search to 1e-6 and the gradient vanishes there', () => {
    for (const [tStar, seed] of [[0.3, 1], [1.7, 2], [6, 3]]) {
      const { logits, labels } = calibratedData(1000, 5, tStar, seed);
      const t = fitTemperature(logits, labels);
      expect(Math.abs(t - goldenSectionTemperature(logits, labels))).toBeLessThan(1e-6 * t);
      const [s] = temperatureStats(logits, labels, [1 / t]);
      expect(Math.abs(s.grad) / labels.length).toBeLessThan(1e-9);
      expect(s.hess).toBeGreaterThan(0);
    }
  });

  it('never increases the NLL over T = 1, nor over nearby temperatures', () => {
    for (const tStar of [0.4, 1, 3]) {
      const { logits, labels } = calibratedData(1500, 10, tStar, 11);
      const t = fitTemperature(logits, labels);
      const best = temperatureNll(logits, labels, t);
      expect(best).toBeLessThanOrEqual(temperatureNll(logits, labels, 1) + 1e-12);
      for (const f of [0.999, 1.001, 0.9, 1.1]) expect(best).toBeLessThanOrEqual(temperatureNll(logits, labels, t * f));
    }
  });

  it('stops at the ends of the range when the minimum lies beyond them', () => {
    // Every example right with a huge margin: sharper is always better, T → its minimum.
    const sharp = Float64Array.from([10, 0, 0, 10, 10, 0]);
    // (Its NLL underflows to 0 before T reaches the range's minimum: the search stops on the first exact 0 gradient.)
    const tSharp = fitTemperature(sharp, [0, 1, 0]);
    expect(tSharp).toBeLessThan(0.2);
    expect(temperatureNll(sharp, [0, 1, 0], tSharp)).toBeLessThan(1e-20);
    // Every example wrong: flatter is always better, T → its maximum.
    expect(fitTemperature(sharp, [1, 0, 1])).toBe(TEMPERATURE_RANGE.max);
    expect(fitTemperature(sharp, [0, 1, 0], { min: 0.5, max: 2 })).toBe(0.5);
    expect(fitTemperature(sharp, [1, 0, 1], { min: 0.5, max: 2 })).toBe(2);
  });

  it('fits the closed form of two examples with one mistake each way', () => {
    // Logits (a, 0) with label 0 and (a, 0) with label 1: NLL(β) = 2·log(1 + e^{βa}) − βa, minimised at β = 0,
    // outside the range: T = max. With labels 0, 0, 1 the optimum is p = 2/3: β·a = ln 2.
    const a = 2;
    const t = fitTemperature([a, 0, a, 0, a, 0], [0, 0, 1]);
    expect(t).toBeCloseTo(a / Math.log(2), 9);
  });

  it('refuses no examples, a label outside the classes, non-finite logits and a bad range', () => {
    expect(thrown(() => fitTemperature([], [])).code).toBe('data');
    expect(thrown(() => fitTemperature([1, 2], [2])).code).toBe('data');
    expect(thrown(() => fitTemperature([1, 2], [-1])).code).toBe('data');
    expect(thrown(() => fitTemperature([1, 2], [0.5])).code).toBe('data');
    expect(thrown(() => fitTemperature([1, 2, 3], [0, 1])).code).toBe('shape_mismatch');
    expect(thrown(() => fitTemperature([1], [0])).code).toBe('shape_mismatch');
    expect(thrown(() => fitTemperature([1, NaN], [0])).code).toBe('non_finite');
    expect(thrown(() => fitTemperature([1, 0], [0], { min: 0, max: 1 })).code).toBe('config');
    expect(thrown(() => fitTemperature([1, 0], [0], { min: 2, max: 1 })).code).toBe('config');
    expect(thrown(() => new TemperatureSearch(TEMPERATURE_RANGE, 1)).code).toBe('config');
    expect(thrown(() => new TemperatureSearch(TEMPERATURE_RANGE, 33)).code).toBe('config');
  });
});

describe('federated temperature fit (the sites send only sums)', () => {
  it('equals the centralized fit on the union of the same data to 1e-6', async () => {
    const { logits, labels } = calibratedData(1500, 10, 2.5, 5);
    const k = 10;
    const cuts = [0, 350, 950, 1500];
    const sites = cuts.slice(1).map((end, s) => ({ logits: logits.subarray(cuts[s] * k, end * k), labels: labels.subarray(cuts[s], end) }));
    let queries = 0;
    const federated = await searchTemperature((betas) => {
      queries++;
      const perSite = sites.map((site) => temperatureStats(site.logits, site.labels, betas));
      return betas.map((_, b) => ({
        nll: perSite.reduce((n, p) => n + p[b].nll, 0),
        grad: perSite.reduce((n, p) => n + p[b].grad, 0),
        hess: perSite.reduce((n, p) => n + p[b].hess, 0),
      }));
    });
    expect(Math.abs(federated - fitTemperature(logits, labels))).toBeLessThan(1e-6);
    // A grid then a handful of Newton steps: few round trips to the sites.
    expect(queries).toBeLessThan(15);
  });

  it('refuses non-finite sums and answers of the wrong length', () => {
    const search = new TemperatureSearch();
    const asked = search.next()!;
    expect(thrown(() => search.feed(asked.map(() => ({ nll: NaN, grad: 0, hess: 0 })))).code).toBe('non_finite');
    expect(thrown(() => search.feed(asked.map(() => ({ nll: 1, grad: Infinity, hess: 0 })))).code).toBe('non_finite');
    expect(thrown(() => search.feed(asked.map(() => ({ nll: 1, grad: 0, hess: -Infinity })))).code).toBe('non_finite');
    expect(thrown(() => search.feed([{ nll: 1, grad: 0, hess: 1 }])).code).toBe('internal');
    expect(thrown(() => search.temperature).code).toBe('internal');
  });

  it('asks for a log-spaced grid over the whole range first, then one point at a time', () => {
    const search = new TemperatureSearch({ min: 0.1, max: 10 }, 5);
    expect(search.next()!.map((b) => Number(b.toPrecision(12)))).toEqual([0.1, Number(Math.sqrt(0.1).toPrecision(12)), 1, Number(Math.sqrt(10).toPrecision(12)), 10]);
    // Gradient sign changes between β = 1 and β = √10.
    search.feed([-3, -2, -1, 1, 2].map((grad) => ({ nll: 1, grad, hess: 1 })));
    const next = search.next()!;
    expect(next).toHaveLength(1);
    // Newton from β = √10 with g = 1, h = 1 lands at √10 − 1 ≈ 2.16, inside (1, √10).
    expect(next[0]).toBeCloseTo(Math.sqrt(10) - 1, 12);
    // A zero gradient ends the search there.
    search.feed([{ nll: 1, grad: 0, hess: 1 }]);
    expect(search.done).toBe(true);
    expect(search.next()).toBeUndefined();
    expect(search.temperature).toBeCloseTo(1 / (Math.sqrt(10) - 1), 12);
  });

  it('bisects when Newton would leave the bracket', () => {
    const search = new TemperatureSearch({ min: 0.1, max: 10 }, 3);
    search.feed([-1, 1, 2].map((grad) => ({ nll: 1, grad, hess: 1e-9 })));
    // Newton from β = 1 with h ≈ 0 jumps far left of the bracket (0.1, 1): the midpoint 0.55 instead.
    expect(search.next()![0]).toBeCloseTo(0.55, 12);
    search.feed([{ nll: 1, grad: 1, hess: 0 }]);
    // No curvature: bisect again in (0.1, 0.55).
    expect(search.next()![0]).toBeCloseTo(0.325, 12);
  });
});

/** Feeds the search the stats of an objective given by its derivative g(β) and curvature h(β) until done; returns T and the questions asked. */
function runSearch(search: TemperatureSearch, g: (beta: number) => number, h: (beta: number) => number): { temperature: number; questions: number } {
  let questions = 0;
  for (let betas = search.next(); betas; betas = search.next()) {
    questions++;
    search.feed(betas.map((b) => ({ nll: 1, grad: g(b), hess: h(b) })));
  }
  return { temperature: search.temperature, questions };
}

describe('TemperatureSearch: every branch', () => {
  it('refuses a bad range or grid size with the reason', () => {
    expect(thrown(() => new TemperatureSearch({ min: 1, max: 1 })).message).toBe('temperature range must satisfy 0 < min < max < ∞, got [1, 1]');
    expect(thrown(() => new TemperatureSearch({ min: 1, max: Infinity })).message).toBe('temperature range must satisfy 0 < min < max < ∞, got [1, Infinity]');
    expect(thrown(() => new TemperatureSearch(TEMPERATURE_RANGE, 2.5)).message).toBe('temperature grid size must be an integer in [2, 32], got 2.5');
    // The ends of the allowed grid sizes work.
    expect(new TemperatureSearch(TEMPERATURE_RANGE, 2).next()).toEqual([1 / TEMPERATURE_RANGE.max, 1 / TEMPERATURE_RANGE.min]);
    expect(new TemperatureSearch(TEMPERATURE_RANGE, 32).next()).toHaveLength(32);
  });

  it('says what went wrong when fed badly', () => {
    const search = new TemperatureSearch({ min: 0.25, max: 4 }, 3);
    expect(thrown(() => search.feed([])).message).toBe('the temperature search asked for 3 values, got 0');
    expect(thrown(() => search.feed([0, 0, 0].map(() => ({ nll: NaN, grad: 0, hess: 0 })))).message).toBe('the NLL of the temperature fit is not finite');
    expect(thrown(() => search.temperature).message).toBe('the temperature search has not finished');
    search.feed([1, 2, 3].map((grad) => ({ nll: 1, grad, hess: 1 })));
    expect(search.done).toBe(true);
    const e = thrown(() => search.feed([{ nll: 1, grad: 0, hess: 1 }]));
    expect([e.code, e.message]).toEqual(['internal', 'the temperature search asked for nothing']);
  });

  it('ends at the range\'s ends when the gradient never changes sign, and at an exact zero on the grid', () => {
    // All positive: the smallest β (largest T). All negative: the largest β (smallest T).
    expect(runSearch(new TemperatureSearch({ min: 0.25, max: 4 }, 3), () => 1, () => 1)).toEqual({ temperature: 4, questions: 1 });
    expect(runSearch(new TemperatureSearch({ min: 0.25, max: 4 }, 3), () => -1, () => 1)).toEqual({ temperature: 0.25, questions: 1 });
    // Grid β = 0.25, 1, 4 with gradient 0 at β = 1: T = 1 at once.
    expect(runSearch(new TemperatureSearch({ min: 0.25, max: 4 }, 3), (b) => (b === 1 ? 0 : b - 1), () => 1)).toEqual({ temperature: 1, questions: 1 });
  });

  it('takes Newton only strictly inside the bracket: landing on an end bisects', () => {
    const search = new TemperatureSearch({ min: 0.25, max: 4 }, 3);
    expect(search.next()).toEqual([0.25, 1, 4]);
    // Bracket (0.25, 1); Newton from β = 1 with g = 0.75, h = 1 lands exactly on 0.25: bisect to 0.625.
    search.feed([-1, 0.75, 2].map((grad) => ({ nll: 1, grad, hess: 1 })));
    expect(search.next()).toEqual([0.625]);
    // At 0.625 (now the low end), g = −0.375, h = 1: Newton lands exactly on the high end 1: bisect to 0.8125.
    search.feed([{ nll: 1, grad: -0.375, hess: 1 }]);
    expect(search.next()).toEqual([0.8125]);
    // Far beyond the high end: bisect as well.
    search.feed([{ nll: 1, grad: -5, hess: 1 }]);
    expect(search.next()).toEqual([(0.8125 + 1) / 2]);
  });

  it('a Newton step that rounds to no move ends the search, even on the bracket\'s end', () => {
    // Bracket (0.25, 1); at β = 1 the gradient 1e-30 with curvature 1 moves β by less than its last bit: β = 1 (T = 1)
    // after the grid alone, where a bisection would have asked ~45 more questions.
    const search = new TemperatureSearch({ min: 0.25, max: 4 }, 3);
    search.feed([-1, 1e-30, 2].map((grad) => ({ nll: 1, grad, hess: 1 })));
    expect(search.done).toBe(true);
    expect(search.temperature).toBe(1);
  });

  it('stops after 100 refinements when Newton keeps creeping inside a wide bracket', () => {
    // Grid β = 0.25, 1, 4; the first Newton step from β = 1 lands on 0.5. From then on every answer has a negative
    // gradient whose Newton step moves β up by 1e-10 relative — above the 1e-14 tolerance, inside the bracket (β, 1),
    // which stays about 0.5 wide: only the refinement cap ends the search.
    const search = new TemperatureSearch({ min: 0.25, max: 4 }, 3);
    search.feed([-1, 1e-3, 2].map((grad, i) => ({ nll: 1, grad, hess: i === 1 ? 2e-3 : 1 })));
    expect(search.next()).toEqual([0.5]);
    let questions = 1;
    let last = 0.5;
    for (let betas = search.next(); betas; betas = search.next()) {
      questions++;
      last = betas[0];
      search.feed([{ nll: 1, grad: -1e-6, hess: 1e4 / betas[0] }]);
    }
    expect(questions).toBe(101);
    expect(last).toBeCloseTo(0.5 * (1 + 1e-10) ** 99, 12);
    expect(search.temperature).toBeCloseTo(1 / (0.5 * (1 + 1e-10) ** 100), 9);
  });

  it('converges in a few Newton steps on a smooth convex objective, to machine precision', () => {
    // g(β) = β² − 2 (h = 2β): minimum at β = √2.
    const { temperature, questions } = runSearch(new TemperatureSearch(), (b) => b * b - 2, (b) => 2 * b);
    expect(temperature).toBeCloseTo(1 / Math.SQRT2, 15);
    // The grid, then Newton steps until one moves β by ≤ 1e-14 relative (deterministic: 4 of them).
    expect(questions).toBe(5);
  });

  it('without curvature, bisects until the bracket is 1e-14 wide (relative)', () => {
    const { temperature, questions } = runSearch(new TemperatureSearch(), (b) => b - 0.3, () => 0);
    expect(temperature).toBeCloseTo(1 / 0.3, 11);
    // The first bracket (a grid step, ratio 10^(4/16)) halved until its width is ≤ 1e-14 × its high end: 45
    // halvings after the grid, not the 100-step cap.
    expect(questions).toBe(46);
  });
});

describe('calibrationReport', () => {
  it('lowers the ECE and the NLL of an over-confident model, and keeps its predictions', () => {
    const { logits, labels } = calibratedData(2000, 10, 3, 9);
    const t = fitTemperature(logits, labels);
    const r = calibrationReport(logits, labels, { temperature: t, source: 'holdout', fittedOn: labels.length });
    expect(() => CalibrationReportSchema.parse(r)).not.toThrow();
    expect(r.temperature).toBe(t);
    expect(r.eceAfter).toBeLessThan(r.eceBefore / 3);
    expect(r.nllAfter).toBeLessThan(r.nllBefore);
    expect(r.reliabilityAfter.reduce((n, b) => n + b.count, 0)).toBe(2000);
    // Temperature never changes the argmax.
    const before = scaledProbabilities(logits, 2000, 1);
    const after = scaledProbabilities(logits, 2000, t);
    for (let i = 0; i < 2000; i += 37) {
      const row = (p: Float32Array) => Array.from(p.subarray(i * 10, i * 10 + 10));
      expect(row(after).indexOf(Math.max(...row(after)))).toBe(row(before).indexOf(Math.max(...row(before))));
    }
  });

  it('is the identity at T = 1', () => {
    const { logits, labels } = calibratedData(500, 4, 1, 3);
    const r = calibrationReport(logits, labels, { temperature: 1, source: 'override', fittedOn: 0 });
    expect(r.eceAfter).toBe(r.eceBefore);
    expect(r.nllAfter).toBe(r.nllBefore);
  });
});
