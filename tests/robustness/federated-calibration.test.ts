import { describe, expect, it } from 'vitest';
import { fitFederatedTemperature, type CalibrationAnswer } from '../../coordinator/src/engine/federated-calibration.ts';
import { fitTemperature, parseClientMessage, SeededRandom, temperatureStats } from '@fedtune/shared';

/** Logits of an over-confident model (calibrated logits × 2) and labels drawn from the calibrated softmax. */
function overconfident(n: number, k: number, seed: number): { logits: Float64Array; labels: Int32Array } {
  const rng = new SeededRandom(seed);
  const logits = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => rng.normal() * 2);
    const e = z.map((v) => Math.exp(v));
    let u = rng.next() * e.reduce((a, b) => a + b, 0);
    let y = 0;
    while (y < k - 1 && u >= e[y]) u -= e[y++];
    labels[i] = y;
    z.forEach((v, c) => (logits[i * k + c] = 2 * v));
  }
  return { logits, labels };
}

const K = 5;
const union = overconfident(1200, K, 4);
const parts = [[0, 300], [300, 1000], [1000, 1200]].map(([a, b]) => ({ logits: union.logits.subarray(a * K, b * K), labels: union.labels.subarray(a, b) }));

/** Sites answering honestly, with per-site overrides (by index): a function of the question number. */
function sites(override: (site: number, question: number, honest: CalibrationAnswer) => CalibrationAnswer | undefined = (_, __, h) => h) {
  let question = 0;
  return async (betas: readonly number[]) => {
    question++;
    const answers = new Map<string, CalibrationAnswer>();
    parts.forEach((p, s) => {
      const honest = { betas: [...betas], count: p.labels.length, stats: temperatureStats(p.logits, p.labels, betas) };
      const answer = override(s, question, honest);
      if (answer) answers.set(`site-${s}`, answer);
    });
    return answers;
  };
}

describe('fitFederatedTemperature (coordinator side)', () => {
  it('equals the centralized fit on the union of the sites\' validation data to 1e-6', async () => {
    const asked: Array<string[] | undefined> = [];
    const honest = sites();
    const fit = await fitFederatedTemperature((betas, participants) => {
      asked.push(participants && [...participants]);
      return honest(betas);
    });
    // Everyone gets the first question; later ones go to the participants only.
    expect(asked[0]).toBeUndefined();
    expect(asked.slice(1).every((p) => p?.join() === 'site-0,site-1,site-2')).toBe(true);
    expect(Math.abs(fit.temperature - fitTemperature(union.logits, union.labels))).toBeLessThan(1e-6);
    expect(fit.fittedOn).toBe(1200);
    expect(fit.sites).toEqual(['site-0', 'site-1', 'site-2']);
    // Over-confident by 2: the fitted temperature is near 2.
    expect(fit.temperature).toBeGreaterThan(1.6);
    expect(fit.temperature).toBeLessThan(2.4);
  });

  it('leaves out sites with no validation examples, and fits on the others', async () => {
    const fit = await fitFederatedTemperature(sites((s, _, h) => (s === 2 ? { betas: h.betas, count: 0, stats: h.betas.map(() => ({ nll: 0, grad: 0, hess: 0 })) } : h)));
    expect(fit.sites).toEqual(['site-0', 'site-1']);
    expect(fit.fittedOn).toBe(1000);
    const first = { logits: union.logits.subarray(0, 1000 * K), labels: union.labels.subarray(0, 1000) };
    expect(Math.abs(fit.temperature - fitTemperature(first.logits, first.labels))).toBeLessThan(1e-6);
  });

  it('ignores an answer to other inverse temperatures (a late answer to an earlier question)', async () => {
    // site-1 answers the grid, then keeps sending its grid answer: it no longer answers the questions asked.
    let grid: CalibrationAnswer | undefined;
    const query = sites((s, q, h) => {
      if (s === 1 && q === 1) grid = h;
      return s === 1 && q > 1 ? grid : h;
    });
    await expect(fitFederatedTemperature(query)).rejects.toMatchObject({ code: 'quorum_not_met', message: expect.stringContaining('site-1') });
  });

  it('refuses a fit when a participant leaves or changes its example count mid-fit', async () => {
    await expect(fitFederatedTemperature(sites((s, q, h) => (s === 0 && q > 1 ? undefined : h)))).rejects.toMatchObject({ code: 'quorum_not_met' });
    await expect(fitFederatedTemperature(sites((s, q, h) => (s === 0 && q > 1 ? { ...h, count: h.count + 1 } : h)))).rejects.toMatchObject({ code: 'quorum_not_met' });
  });

  it('refuses a fit no site can contribute to', async () => {
    await expect(fitFederatedTemperature(async () => new Map())).rejects.toMatchObject({ code: 'data' });
  });
});

describe('hostile calibration sums are refused with malformed_payload', () => {
  const base = { runId: 'r', round: 1, siteId: 's', numExamples: 10, metrics: { loss: 0.5, accuracy: 0.5 } };
  const ok = { betas: [0.5, 1], count: 10, stats: [{ nll: 5, grad: -1, hess: 2 }, { nll: 4, grad: 0.5, hess: 1 }] };
  it('accepts sane sums', () => {
    expect(parseClientMessage('evaluateResult', { ...base, calibration: ok }).calibration).toEqual(ok);
    expect(parseClientMessage('evaluateResult', base).calibration).toBeUndefined();
  });
  it.each<[string, unknown]>([
    ['a negative NLL', { ...ok, stats: [{ nll: -1, grad: 0, hess: 1 }, ok.stats[1]] }],
    ['a negative curvature', { ...ok, stats: [{ nll: 1, grad: 0, hess: -1 }, ok.stats[1]] }],
    ['an infinite gradient', { ...ok, stats: [{ nll: 1, grad: Infinity, hess: 1 }, ok.stats[1]] }],
    ['a NaN NLL', { ...ok, stats: [{ nll: NaN, grad: 0, hess: 1 }, ok.stats[1]] }],
    ['a gradient of 1e300', { ...ok, stats: [{ nll: 1, grad: 1e300, hess: 1 }, ok.stats[1]] }],
    ['fewer sums than inverse temperatures', { ...ok, stats: [ok.stats[0]] }],
    ['an inverse temperature outside the range', { ...ok, betas: [1000, 1] }],
    ['33 inverse temperatures', { betas: new Array(33).fill(1), count: 10, stats: new Array(33).fill(ok.stats[0]) }],
    ['non-zero sums over no examples', { ...ok, count: 0 }],
    ['a count of 2^53 − 1', { ...ok, count: 2 ** 53 - 1 }],
    ['a string', 'lots'],
  ])('%s', (_, calibration) => {
    expect(() => parseClientMessage('evaluateResult', { ...base, calibration })).toThrow(expect.objectContaining({ code: 'malformed_payload' }));
  });
});
