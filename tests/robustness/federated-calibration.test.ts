import { describe, expect, it } from 'vitest';
import { boundedStats, calibrationBounds, fitFederatedTemperature, type CalibrationAnswer } from '../../coordinator/src/engine/federated-calibration.ts';
import { fitTemperature, parseClientMessage, parseServerMessage, SeededRandom, temperatureStats } from '@fedtune/shared';
import { EvaluateResult } from '../../shared/src/messages/schemas.ts';

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

describe('fitFederatedTemperature: exact bookkeeping', () => {
  /** n small sites (2 examples each) answering honestly, in the given insertion order, silent from question `silentFrom` for the listed ones. */
  function small(order: number[], silent: number[] = [], silentFrom = 2) {
    let question = 0;
    return async (betas: readonly number[]) => {
      question++;
      const answers = new Map<string, CalibrationAnswer>();
      for (const s of order) {
        if (question >= silentFrom && silent.includes(s)) continue;
        const p = { logits: union.logits.subarray(s * 2 * K, (s * 2 + 2) * K), labels: union.labels.subarray(s * 2, s * 2 + 2) };
        answers.set(`site-${s}`, { betas: [...betas], count: 2, stats: temperatureStats(p.logits, p.labels, betas) });
      }
      return answers;
    };
  }

  it('lists the participants in site-id order whatever the arrival order, and fits the same T', async () => {
    const shuffled = await fitFederatedTemperature(small([3, 0, 4, 1, 2]));
    const ordered = await fitFederatedTemperature(small([0, 1, 2, 3, 4]));
    expect(shuffled.sites).toEqual(['site-0', 'site-1', 'site-2', 'site-3', 'site-4']);
    expect(shuffled.fittedOn).toBe(10);
    // Sums in site-id order: bit-identical whatever the arrival order.
    expect(shuffled.temperature).toBe(ordered.temperature);
    expect(Math.abs(ordered.temperature - fitTemperature(union.logits.subarray(0, 10 * K), union.labels.subarray(0, 10)))).toBeLessThan(1e-9);
  });

  it.each<[number[], string]>([
    [[2], 'federated calibration: site-2 did not answer'],
    [[4, 0, 1], 'federated calibration: site-0, site-1, site-4 did not answer'],
    [[0, 1, 2, 3], 'federated calibration: site-0, site-1, site-2 and 1 more did not answer'],
    [[0, 1, 2, 3, 4], 'federated calibration: site-0, site-1, site-2 and 2 more did not answer'],
  ])('silent participants %j: quorum_not_met, "%s"', async (silent, message) => {
    await expect(fitFederatedTemperature(small([0, 1, 2, 3, 4], silent))).rejects.toMatchObject({ code: 'quorum_not_met', message });
  });

  it('no site with examples: data, with the reason', async () => {
    const empty = async (betas: readonly number[]) => new Map([['site-0', { betas: [...betas], count: 0, stats: betas.map(() => ({ nll: 0, grad: 0, hess: 0 })) }]]);
    await expect(fitFederatedTemperature(empty)).rejects.toMatchObject({ code: 'data', message: 'no site sent calibration sums over a non-empty validation split' });
  });

  it('an answer to only some of the inverse temperatures asked (a prefix) is no answer', async () => {
    const honest = small([0, 1, 2]);
    const fit = await fitFederatedTemperature(async (betas) => {
      const answers = new Map(await honest(betas));
      const a = answers.get('site-1')!;
      answers.set('site-1', { betas: a.betas.slice(0, 1), count: a.count, stats: a.stats.slice(0, 1) });
      return answers;
    });
    expect(fit.sites).toEqual(['site-0', 'site-2']);
    expect(fit.fittedOn).toBe(4);
  });

  it('an answer echoing other inverse temperatures of the same length is no answer', async () => {
    const honest = small([0, 1]);
    const fit = await fitFederatedTemperature(async (betas) => {
      const answers = new Map(await honest(betas));
      const a = answers.get('site-0')!;
      answers.set('site-0', { ...a, betas: a.betas.map((b, i) => (i === a.betas.length - 1 ? b * 1.5 : b)) });
      return answers;
    });
    expect(fit.sites).toEqual(['site-1']);
  });

  it('takes few round trips: the summed curvature drives Newton steps after the grid (bisection alone would take ~45)', async () => {
    let questions = 0;
    const honest = sites();
    await fitFederatedTemperature((betas) => {
      questions++;
      return honest(betas);
    });
    expect(questions).toBeLessThan(15);
  });

  it('sums the participants\' gradients and curvatures: a participant counts in every later question', async () => {
    // Site 1's gradients alone pull T one way; with site 0's the fit is the union's, not either's.
    const fit = await fitFederatedTemperature(small([0, 1]));
    const union4 = fitTemperature(union.logits.subarray(0, 4 * K), union.labels.subarray(0, 4));
    expect(Math.abs(fit.temperature - union4)).toBeLessThan(1e-9);
    const site1 = fitTemperature(union.logits.subarray(2 * K, 4 * K), union.labels.subarray(2, 4));
    expect(Math.abs(fit.temperature - site1)).toBeGreaterThan(1e-3);
  });
});

describe('one site\'s calibration sums are bounded by the participants\' median (cap = exampleWeightCap)', () => {
  const answer = (count: number, stats: Array<[number, number, number]>): CalibrationAnswer => ({ betas: stats.map((_, i) => i + 1), count, stats: stats.map(([nll, grad, hess]) => ({ nll, grad, hess })) });

  it('calibrationBounds: count ≤ cap × median count, |grad| ≤ cap × median largest |grad| per example, hess ≤ cap² × median largest hess per example', () => {
    const grid: Array<[string, CalibrationAnswer]> = [
      ['a', answer(10, [[5, -20, 3], [4, 10, 1]])], // per example: |grad| 2, hess 0.3
      ['b', answer(20, [[5, 20, 2], [4, -60, 8]])], // 3, 0.4
      ['c', answer(100, [[5, 1e6, 1e6], [4, 0, 0]])], // 1e4, 1e4
    ];
    // Lower medians: count 20, |grad| 3, hess 0.4.
    expect(calibrationBounds(grid, 4)).toEqual(new Map([['a', { count: 10, grad: 12, hess: 6.4 }], ['b', { count: 20, grad: 12, hess: 6.4 }], ['c', { count: 80, grad: 12, hess: 6.4 }]]));
    expect(calibrationBounds(grid, 2).get('c')).toEqual({ count: 40, grad: 6, hess: 1.6 });
    // cap 0: no bound.
    expect(calibrationBounds(grid, 0).get('c')).toEqual({ count: 100, grad: Infinity, hess: Infinity });
    // A site with no gradient or curvature at all sets a bound of 0, not a negative one.
    expect(calibrationBounds([['z', answer(4, [[1, 0, 0]])]], 4).get('z')).toEqual({ count: 4, grad: 0, hess: 0 });
  });

  it('boundedStats: each bound at its edge is taken unchanged, just past it is clipped to it; a capped count scales the sums', () => {
    const bound = { count: 10, grad: 2, hess: 0.5 };
    expect(boundedStats({ nll: 7, grad: 20, hess: 5 }, 10, bound)).toEqual({ nll: 7, grad: 20, hess: 5 });
    expect(boundedStats({ nll: 7, grad: -20, hess: 0 }, 10, bound)).toEqual({ nll: 7, grad: -20, hess: 0 });
    expect(boundedStats({ nll: 7, grad: 20.000001, hess: 5.000001 }, 10, bound)).toEqual({ nll: 7, grad: 20, hess: 5 });
    expect(boundedStats({ nll: 7, grad: -20.000001, hess: 1 }, 10, bound)).toEqual({ nll: 7, grad: -20, hess: 1 });
    expect(boundedStats({ nll: 7, grad: 1e15, hess: 1e15 }, 10, bound)).toEqual({ nll: 7, grad: 20, hess: 5 });
    // Count 40 capped at 10: every sum × 1/4, then bounded by 10 examples.
    expect(boundedStats({ nll: 8, grad: -40, hess: 12 }, 40, bound)).toEqual({ nll: 2, grad: -10, hess: 3 });
    expect(boundedStats({ nll: 8, grad: 120, hess: 40 }, 40, bound)).toEqual({ nll: 2, grad: 20, hess: 5 });
  });

  /** The three honest sites of `sites()`, site-2 (200 of the 1,200 examples) replaced by what `hostile` sends. */
  const withHostile = (hostile: (honest: CalibrationAnswer) => CalibrationAnswer) => sites((s, _, h) => (s === 2 ? hostile(h) : h));
  const pull = (sign: number) => (h: CalibrationAnswer): CalibrationAnswer => ({ ...h, stats: h.stats.map(() => ({ nll: 1e15, grad: sign * 1e15, hess: 1e15 })) });

  it('honest sites: the cap changes nothing (the union\'s fit), nobody bounded', async () => {
    const fit = await fitFederatedTemperature(sites(), 4);
    expect(Math.abs(fit.temperature - fitTemperature(union.logits, union.labels))).toBeLessThan(1e-6);
    expect(fit.bounded).toEqual([]);
  });

  it('a hostile site sending 1e15 pulls T to the range\'s end without the cap; with it, no further than sums at its bound', async () => {
    const honest = (await fitFederatedTemperature(sites(), 4)).temperature;
    // site-2's bound, from the honest grid answers (the first question's inverse temperatures).
    let bound: ReturnType<typeof calibrationBounds> | undefined;
    await fitFederatedTemperature(async (betas) => {
      const grid = await sites()(betas);
      bound ??= calibrationBounds([...grid], 4);
      return grid;
    });
    const b = bound!.get('site-2')!;
    expect(b.count).toBe(200);
    for (const sign of [1, -1]) {
      const uncapped = await fitFederatedTemperature(withHostile(pull(sign)));
      expect(uncapped.temperature).toBe(sign > 0 ? 100 : 0.01);
      expect(uncapped.bounded).toEqual([]);
      const capped = await fitFederatedTemperature(withHostile(pull(sign)), 4);
      expect(capped.bounded).toEqual(['site-2']);
      // The most a site of 200 examples may send: its bound at every β. Taken unchanged (not listed), and the same fit.
      const atBound = await fitFederatedTemperature(withHostile((h) => ({ ...h, stats: h.stats.map(() => ({ nll: 1, grad: sign * b.count * b.grad, hess: b.count * b.hess })) })), 4);
      expect(atBound.bounded).toEqual([]);
      expect(capped.temperature).toBe(atBound.temperature);
      expect(sign > 0 ? capped.temperature > honest : capped.temperature < honest).toBe(true);
    }
    // Pulling up, T stays inside the range (2.06 → 15.4 here, not 100). Pulling down, sums at the bound still reach
    // 0.01: an honest gradient is ≥ 0 at T = 0.01, a check of that shape is not made (docs/robustness.md#calibration).
    expect((await fitFederatedTemperature(withHostile(pull(1)), 4)).temperature).toBeLessThan(16);
  });

  it('bounded names every site held — by its gradient alone, by its curvature alone — in site-id order, whenever it was first held', async () => {
    const gradOnly = (h: CalibrationAnswer): CalibrationAnswer => ({ ...h, stats: h.stats.map((x) => ({ ...x, grad: 1e15 })) });
    // Held at the last inverse temperature of each question only: after site-2, which is held at the first.
    const hessOnlyLast = (h: CalibrationAnswer): CalibrationAnswer => ({ ...h, stats: h.stats.map((x, i) => (i === h.stats.length - 1 ? { ...x, hess: 1e15 } : x)) });
    expect((await fitFederatedTemperature(sites((s, _, h) => (s === 2 ? gradOnly(h) : h)), 4)).bounded).toEqual(['site-2']);
    expect((await fitFederatedTemperature(sites((s, _, h) => (s === 0 ? hessOnlyLast(h) : h)), 4)).bounded).toEqual(['site-0']);
    expect((await fitFederatedTemperature(sites((s, _, h) => (s === 2 ? gradOnly(h) : s === 0 ? hessOnlyLast(h) : h)), 4)).bounded).toEqual(['site-0', 'site-2']);
  });
});

describe('two participants: the announced counts and the holdout reference keep one from setting the other\'s bounds', () => {
  const answer = (count: number, stats: Array<[number, number, number]>): CalibrationAnswer => ({ betas: stats.map((_, i) => i + 1), count, stats: stats.map(([nll, grad, hess]) => ({ nll, grad, hess })) });
  const honest = answer(200, [[5, 400, 100]]); // per example: |grad| 2, hess 0.5
  const tiny = answer(1, [[1e15, -1e15, 0]]); // per example: |grad| 1e15, hess 0
  const reference = answer(1500, [[10, 4500, 600]]); // per example: |grad| 3, hess 0.4

  it('calibrationBounds: without a reference the tiny answer sets the medians (count 1, hess 0); with it, the honest site keeps its count', () => {
    const grid: Array<[string, CalibrationAnswer]> = [['e', tiny], ['h', honest]];
    expect(calibrationBounds(grid, 4)).toEqual(new Map([['e', { count: 1, grad: 8, hess: 0 }], ['h', { count: 4, grad: 8, hess: 0 }]]));
    // Members 1, 200, 1500 → count 200; |grad| 1e15, 2, 3 → 3; hess 0, 0.5, 0.4 → 0.4.
    expect(calibrationBounds(grid, 4, { reference })).toEqual(new Map([['e', { count: 1, grad: 12, hess: 6.4 }], ['h', { count: 200, grad: 12, hess: 6.4 }]]));
    // A reference with no examples is no member.
    expect(calibrationBounds(grid, 4, { reference: { ...reference, count: 0, stats: [{ nll: 0, grad: 0, hess: 0 }] } })).toEqual(calibrationBounds(grid, 4));
  });

  it('calibrationBounds: a count is held to the examples announced at hello, at the edge and past it, also with cap 0', () => {
    const grid: Array<[string, CalibrationAnswer]> = [['e', answer(1000, [[1, 1, 1]])], ['h', honest]];
    expect(calibrationBounds(grid, 4, { reference, announced: new Map([['e', 1000]]) }).get('e')!.count).toBe(1000);
    expect(calibrationBounds(grid, 4, { reference, announced: new Map([['e', 999]]) }).get('e')!.count).toBe(999);
    expect(calibrationBounds(grid, 0, { announced: new Map([['e', 10]]) }).get('e')).toEqual({ count: 10, grad: Infinity, hess: Infinity });
    // A site not in the announced counts is held by the median only (counts 200, 1000: at most 800).
    expect(calibrationBounds(grid, 4, { announced: new Map([['x', 1]]) }).get('e')!.count).toBe(800);
  });

  it('calibrationBounds: the medians see each count as held (a huge claim moves none of them); a site held to 0 examples sets none', () => {
    const huge = answer(1e9, [[1e15, -1e15, 1e15]]);
    const grid: Array<[string, CalibrationAnswer]> = [['e', huge], ['h', honest], ['i', answer(500, [[5, 500, 100]])]];
    // Held counts 10, 200, 500 and the reference 1500: lower median 200; per held example e's |grad| is 1e14, so the
    // |grad| median is of 1e14, 2, 1, 3 → 2, and the hess median of 1e14, 0.5, 0.2, 0.4 → 0.4.
    expect(calibrationBounds(grid, 4, { reference, announced: new Map([['e', 10]]) })).toEqual(new Map([
      ['e', { count: 10, grad: 8, hess: 6.4 }], ['h', { count: 200, grad: 8, hess: 6.4 }], ['i', { count: 500, grad: 8, hess: 6.4 }],
    ]));
    // e announced nothing: it weighs 0 and the medians are of h, i and the reference (200; 2; 0.4).
    expect(calibrationBounds(grid, 4, { reference, announced: new Map([['e', 0]]) }).get('e')).toEqual({ count: 0, grad: 8, hess: 6.4 });
    // Only a participant held to 0 and no reference: bounds of 0, nothing NaN.
    expect(calibrationBounds([['e', huge]], 4, { announced: new Map([['e', 0]]) }).get('e')).toEqual({ count: 0, grad: 0, hess: 0 });
  });

  it('a fit of an honest site and one claiming one example: dragged without the reference, close to the honest fit with it', async () => {
    const alone = fitTemperature(parts[1].logits, parts[1].labels);
    const query = (sign: number) => async (betas: readonly number[]) =>
      new Map<string, CalibrationAnswer>([
        ['site-1', { betas: [...betas], count: parts[1].labels.length, stats: temperatureStats(parts[1].logits, parts[1].labels, betas) }],
        ['site-x', { betas: [...betas], count: 1, stats: betas.map(() => ({ nll: 1e15, grad: sign * 1e15, hess: 0 })) }],
      ]);
    const holdout = { logits: parts[0].logits, labels: parts[0].labels };
    const ref = async (betas: readonly number[]) => ({ betas: [...betas], count: holdout.labels.length, stats: temperatureStats(holdout.logits, holdout.labels, betas) });
    for (const sign of [1, -1]) {
      const dragged = await fitFederatedTemperature(query(sign), 4);
      const held = await fitFederatedTemperature(query(sign), 4, { reference: ref, announced: new Map([['site-1', 5000], ['site-x', 10]]) });
      expect(Math.abs(Math.log(dragged.temperature / alone)), `sign ${sign}: ${dragged.temperature} vs ${alone}`).toBeGreaterThan(1);
      expect(Math.abs(Math.log(held.temperature / alone)), `sign ${sign}: ${held.temperature} vs ${alone}`).toBeLessThan(0.1);
      expect(held.bounded).toEqual(['site-x']);
    }
    // Honest answers with a reference: the union's fit, nobody bounded (the reference is a bound, never a summand).
    const both = await fitFederatedTemperature(sites(), 4, { reference: ref });
    expect(Math.abs(both.temperature - fitTemperature(union.logits, union.labels))).toBeLessThan(1e-6);
    expect(both.bounded).toEqual([]);
  });
});

describe('calibration schemas: each bound at the edge and just past it', () => {
  const base = { runId: 'r', round: 1, siteId: 's', numExamples: 10, metrics: { loss: 0.5, accuracy: 0.5 } };
  const stat = { nll: 5, grad: -1, hess: 2 };
  const one = (patch: Record<string, unknown>) => ({ betas: [1], count: 10, stats: [{ ...stat, ...patch }], });
  const accepts = (calibration: unknown) => EvaluateResult.safeParse({ ...base, calibration }).success;

  it('a result with calibration parses to itself (nothing dropped)', () => {
    const calibration = { betas: [0.01, 100], count: 3, stats: [stat, { nll: 0, grad: 0, hess: 0 }] };
    expect(EvaluateResult.parse({ ...base, calibration })).toEqual({ ...base, calibration });
  });

  it.each<[string, unknown, boolean]>([
    ['β = 1/T_max = 0.01', { betas: [0.01], count: 1, stats: [stat] }, true],
    ['β = 1/T_min = 100', { betas: [100], count: 1, stats: [stat] }, true],
    ['β = 0.0099', { betas: [0.0099], count: 1, stats: [stat] }, false],
    ['β = 100.01', { betas: [100.01], count: 1, stats: [stat] }, false],
    ['no β', { betas: [], count: 1, stats: [] }, false],
    ['32 β', { betas: new Array(32).fill(1), count: 1, stats: new Array(32).fill(stat) }, true],
    ['NLL 0', one({ nll: 0 }), true],
    ['NLL −1e-9', one({ nll: -1e-9 }), false],
    ['NLL 1e15', one({ nll: 1e15 }), true],
    ['NLL 1.01e15', one({ nll: 1.01e15 }), false],
    ['gradient −1e15', one({ grad: -1e15 }), true],
    ['gradient −1.01e15', one({ grad: -1.01e15 }), false],
    ['gradient 1.01e15', one({ grad: 1.01e15 }), false],
    ['gradient −Infinity', one({ grad: -Infinity }), false],
    ['curvature 0', one({ hess: 0 }), true],
    ['curvature −1e-9', one({ hess: -1e-9 }), false],
    ['curvature 1.01e15', one({ hess: 1.01e15 }), false],
    ['count 0, all sums 0', { betas: [1, 2], count: 0, stats: [{ nll: 0, grad: 0, hess: 0 }, { nll: 0, grad: 0, hess: 0 }] }, true],
    ['count 0, a gradient', { betas: [1], count: 0, stats: [{ nll: 0, grad: 1, hess: 0 }] }, false],
    ['count 0, a curvature', { betas: [1], count: 0, stats: [{ nll: 0, grad: 0, hess: 1 }] }, false],
    ['count 0, an NLL in the second sum', { betas: [1, 2], count: 0, stats: [{ nll: 0, grad: 0, hess: 0 }, { nll: 1, grad: 0, hess: 0 }] }, false],
    ['count −1', { betas: [1], count: -1, stats: [stat] }, false],
    ['count 1e9', { betas: [1], count: 1e9, stats: [stat] }, true],
    ['count 1.5', { betas: [1], count: 1.5, stats: [stat] }, false],
    ['more sums than β', { betas: [1], count: 1, stats: [stat, stat] }, false],
  ])('%s → accepted: %s', (_name, calibration, ok) => {
    expect(accepts(calibration)).toBe(ok);
  });

  it('says why a refined check failed', () => {
    const short = EvaluateResult.safeParse({ ...base, calibration: { betas: [1, 2], count: 1, stats: [stat] } });
    expect(short.success ? '' : short.error.issues.map((i) => i.message)).toEqual(['one calibration sum per inverse temperature']);
    const empty = EvaluateResult.safeParse({ ...base, calibration: { betas: [1], count: 0, stats: [stat] } });
    expect(empty.success ? '' : empty.error.issues.map((i) => i.message)).toEqual(['calibration sums over no examples must be 0']);
  });

  it('the coordinator\'s question: 1 to 32 inverse temperatures within the range', () => {
    const instruction = { runId: 'r', round: 1, modelVersion: 1, weights: new Uint8Array([1]) };
    expect(parseServerMessage('evaluate', { ...instruction, calibration: { betas: [0.01, 100] } })).toEqual({ ...instruction, calibration: { betas: [0.01, 100] } });
    for (const betas of [[], new Array(33).fill(1), [0.005], [101]]) {
      expect(() => parseServerMessage('evaluate', { ...instruction, calibration: { betas } }), JSON.stringify(betas)).toThrow(expect.objectContaining({ code: 'malformed_payload' }));
    }
  });
});
