import { describe, expect, it } from 'vitest';
import { AUTO_CANDIDATES, MAX_REPORTED_LOSS, passesRobustnessGuard, PersonalizationSettings, ranksAbove, selectPersonalCandidate, SiteReportResult, winsBeyondNoise, type CandidateScore } from '@fedtune/shared';

const c = (candidate: CandidateScore['candidate'], accuracy: number, loss: number, robustAccuracy?: number): CandidateScore => ({
  candidate,
  accuracy,
  loss,
  ...(robustAccuracy !== undefined ? { robustAccuracy } : {}),
});

describe('selectPersonalCandidate: the site keeps the best candidate on its validation split', () => {
  it.each<[string, CandidateScore[], CandidateScore['candidate']]>([
    ['only the global model', [c('global', 0.8, 0.5)], 'global'],
    ['higher accuracy wins despite a higher loss', [c('global', 0.8, 0.1), c('head', 0.81, 0.9)], 'head'],
    ['lower accuracy loses despite a lower loss', [c('global', 0.8, 0.9), c('full', 0.79, 0.01)], 'global'],
    ['a tie in accuracy keeps the global model even at a higher loss', [c('global', 0.8, 0.9), c('full', 0.8, 0.1), c('local-only', 0.8, 0.05)], 'global'],
    ['a tie between local-only and a fine-tune keeps local-only even at a higher loss', [c('global', 0.7, 0.5), c('full', 0.8, 0.1), c('local-only', 0.8, 0.3)], 'local-only'],
    ['local-only ties a fine-tune tried after it: still local-only', [c('global', 0.7, 0.5), c('local-only', 0.8, 0.3), c('ditto', 0.8, 0.1)], 'local-only'],
    ['a tie between two fine-tunes: lower loss', [c('global', 0.7, 0.5), c('head', 0.8, 0.3), c('mix-0.5', 0.8, 0.2)], 'mix-0.5'],
    ['an exact tie between two fine-tunes keeps the one tried first', [c('global', 0.7, 0.5), c('head', 0.8, 0.2), c('mix-0.5', 0.8, 0.2)], 'head'],
    ['the best of many', [c('global', 0.7, 0.5), c('head', 0.75, 0.3), c('full', 0.9, 0.4), c('mix-0.25', 0.85, 0.2), c('local-only', 0.88, 0.1)], 'full'],
    ['global need not come first', [c('head', 0.8, 0.2), c('global', 0.8, 0.9)], 'global'],
    // The robustness guard: a candidate less robust than the global model on validation is never chosen.
    ['guard: a more accurate but less robust candidate is skipped', [c('global', 0.8, 0.5, 0.3), c('full', 0.95, 0.1, 0.29)], 'global'],
    ['guard: equal robustness passes', [c('global', 0.8, 0.5, 0.3), c('full', 0.95, 0.1, 0.3)], 'full'],
    ['guard: the best robust-enough candidate, not the best overall', [c('global', 0.7, 0.5, 0.2), c('full', 0.95, 0.1, 0.1), c('local-only', 0.9, 0.2, 0.25), c('head', 0.85, 0.2, 0.4)], 'local-only'],
    ['guard: nothing robust enough keeps the global model', [c('global', 0.5, 0.5, 0.2), c('full', 0.95, 0.1, 0.19), c('head', 0.9, 0.1, 0)], 'global'],
    ['guard off (no robust scores): accuracy alone', [c('global', 0.8, 0.5), c('full', 0.95, 0.1)], 'full'],
  ])('%s', (_name, scores, want) => {
    expect(selectPersonalCandidate(scores).candidate).toBe(want);
  });

  it('returns the chosen score object itself', () => {
    const scores = [c('global', 0.7, 0.5), c('head', 0.9, 0.3)];
    expect(selectPersonalCandidate(scores)).toBe(scores[1]);
  });

  it('without the global model it is an internal error', () => {
    expect(() => selectPersonalCandidate([c('head', 0.9, 0.1)])).toThrow(expect.objectContaining({ code: 'internal', message: expect.stringMatching(/must include the global model/) }));
  });
});

describe('ranksAbove and passesRobustnessGuard', () => {
  it.each<[string, CandidateScore, CandidateScore, boolean]>([
    ['higher accuracy', c('head', 0.9, 1), c('global', 0.8, 0.1), true],
    ['lower accuracy', c('global', 0.8, 0.1), c('head', 0.9, 1), false],
    ['equal accuracy: global above a fine-tune', c('global', 0.8, 1), c('head', 0.8, 0.1), true],
    ['equal accuracy: a fine-tune below global', c('head', 0.8, 0.1), c('global', 0.8, 1), false],
    ['equal accuracy: global above local-only', c('global', 0.8, 1), c('local-only', 0.8, 0.1), true],
    ['equal accuracy: local-only below global', c('local-only', 0.8, 0.1), c('global', 0.8, 1), false],
    ['equal accuracy: local-only above a fine-tune', c('local-only', 0.8, 1), c('ditto', 0.8, 0.1), true],
    ['equal accuracy: a fine-tune below local-only', c('ditto', 0.8, 0.1), c('local-only', 0.8, 1), false],
    ['equal accuracy and rank: lower loss', c('head', 0.8, 0.1), c('full', 0.8, 0.2), true],
    ['equal accuracy and rank: higher loss', c('head', 0.8, 0.2), c('full', 0.8, 0.1), false],
    ['an exact tie is not above', c('head', 0.8, 0.2), c('full', 0.8, 0.2), false],
  ])('ranksAbove: %s', (_name, a, b, want) => {
    expect(ranksAbove(a, b)).toBe(want);
  });

  it.each<[string, number | undefined, number | undefined, boolean]>([
    ['more robust', 0.5, 0.4, true],
    ['as robust', 0.4, 0.4, true],
    ['less robust', 0.39, 0.4, false],
    ['candidate unmeasured', undefined, 0.4, true],
    ['global unmeasured', 0.1, undefined, true],
  ])('passesRobustnessGuard: %s', (_name, candidate, global, want) => {
    expect(passesRobustnessGuard(c('full', 0.9, 0.1, candidate), c('global', 0.8, 0.2, global))).toBe(want);
  });
});

describe('the wire bounds of the guard and the candidates', () => {
  it.each([
    [0, true],
    [1, true],
    [-0.001, false],
    [1.001, false],
    [Number.NaN, false],
  ])('guardEps %s accepted: %s', (guardEps, ok) => {
    expect(PersonalizationSettings.safeParse({ mode: 'auto', epochs: 1, lambda: 0, validate: true, guard: 'pgd', guardEps }).success).toBe(ok);
  });

  it.each<[string, Record<string, unknown>, boolean]>([
    ['selection kfold', { selection: 'kfold' }, true],
    ['selection holdout', { selection: 'holdout' }, true],
    ['an unknown selection', { selection: 'loo' }, false],
    ['2 folds', { folds: 2 }, true],
    ['10 folds', { folds: 10 }, true],
    ['1 fold', { folds: 1 }, false],
    ['11 folds', { folds: 11 }, false],
    ['fractional folds', { folds: 3.5 }, false],
    ['margin 0', { selectionMargin: 0 }, true],
    ['margin 10', { selectionMargin: 10 }, true],
    ['margin past 10', { selectionMargin: 10.5 }, false],
    ['a negative margin', { selectionMargin: -0.1 }, false],
    ['a non-finite margin', { selectionMargin: Infinity }, false],
  ])('a site validates the selection settings it is sent: %s → %s', (_name, over, ok) => {
    expect(PersonalizationSettings.safeParse({ mode: 'auto', epochs: 1, lambda: 0, validate: true, ...over }).success).toBe(ok);
  });

  it.each([
    [AUTO_CANDIDATES.length, true],
    [AUTO_CANDIDATES.length + 1, false],
  ])('%s candidates accepted: %s', (n, ok) => {
    const candidates = Array.from({ length: n }, () => ({ candidate: 'head', accuracy: 1, loss: 0 }));
    const result = { runId: 'r', round: 1, siteId: 's', numExamples: 1, arms: { global: { accuracy: 1, loss: 0 } }, candidates, durationMs: 0 };
    expect(SiteReportResult.safeParse(result).success).toBe(ok);
  });

  it('a candidate at the loss bound is accepted, just past it refused', () => {
    const one = (loss: number) => ({ runId: 'r', round: 1, siteId: 's', numExamples: 1, arms: { global: { accuracy: 1, loss: 0 } }, candidates: [{ candidate: 'global', accuracy: 0, loss }], durationMs: 0 });
    expect(SiteReportResult.safeParse(one(MAX_REPORTED_LOSS)).success).toBe(true);
    expect(SiteReportResult.safeParse(one(MAX_REPORTED_LOSS * 1.001)).success).toBe(false);
  });
});

/** A candidate with per-example validation results (1 correct, 0 wrong); accuracy is their mean. */
const p = (candidate: CandidateScore['candidate'], correct: number[], loss = 0.5, robustAccuracy?: number): CandidateScore => ({
  candidate,
  accuracy: correct.reduce((a, b) => a + b, 0) / correct.length,
  loss,
  correct: Uint8Array.from(correct),
  ...(robustAccuracy !== undefined ? { robustAccuracy } : {}),
});
/** `wins` examples only `a` gets right, `losses` only `b`, `both` both, out of `n`. */
const pair = (n: number, wins: number, losses: number, both: number): [number[], number[]] => {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i < wins ? 'w' : i < wins + losses ? 'l' : i < wins + losses + both ? 'b' : 'n';
    a.push(kind === 'w' || kind === 'b' ? 1 : 0);
    b.push(kind === 'l' || kind === 'b' ? 1 : 0);
  }
  return [a, b];
};

describe('winsBeyondNoise: a gain counts only beyond margin × its paired standard error', () => {
  // 4 wins, 0 losses in 100: mean 0.04, SE = √((4·0.96² + 96·0.04²)/99/100) = √(0.0384/99·100/100)… ≈ 0.019695
  const [a4, b4] = pair(100, 4, 0, 80);
  const se4 = Math.sqrt((4 * 0.96 ** 2 + 96 * 0.04 ** 2) / 99 / 100);
  it.each<[string, number, boolean]>([
    ['margin 0: any gain', 0, true],
    ['margin 1: 0.04 > 1 SE', 1, true],
    ['margin 2: 0.04 > 2 SE (2.03 SE)', 2, true],
    ['margin just above the ratio: no', 0.04 / se4 + 1e-9, false],
    ['margin 3: no', 3, false],
  ])('%s', (_name, margin, want) => {
    expect(winsBeyondNoise(p('full', a4), p('global', b4), margin)).toBe(want);
  });

  it('a gain of exactly margin standard errors does not count (strictly more is needed)', () => {
    // d = [1, 0, 0, 0]: mean 0.25, SE 0.25 — exactly 1 SE.
    expect(winsBeyondNoise(p('full', [1, 1, 0, 1]), p('global', [0, 1, 0, 1]), 1)).toBe(false);
    expect(winsBeyondNoise(p('full', [1, 1, 0, 1]), p('global', [0, 1, 0, 1]), 0.999)).toBe(true);
  });

  it('margin 0 with a single example: plain accuracy (no noise estimate needed)', () => {
    expect(winsBeyondNoise(p('full', [1]), p('global', [0]), 0)).toBe(true);
    expect(winsBeyondNoise(p('full', [1]), p('global', [0]), 1)).toBe(false);
  });

  it('a loss never wins, whatever the margin', () => {
    expect(winsBeyondNoise(p('full', b4), p('global', a4), 0)).toBe(false);
    expect(winsBeyondNoise(p('full', b4), p('global', a4), 1)).toBe(false);
  });

  it('equal results never win (margin 0 too)', () => {
    expect(winsBeyondNoise(p('full', a4), p('global', a4), 0)).toBe(false);
    expect(winsBeyondNoise(p('full', a4), p('global', a4), 1)).toBe(false);
  });

  it('a gain with no disagreement noise (every difference the same) wins at any margin', () => {
    expect(winsBeyondNoise(p('full', [1, 1, 1]), p('global', [0, 0, 0]), 10)).toBe(true);
  });

  it('without per-example results (or of different lengths) it is plain accuracy, whatever the margin', () => {
    expect(winsBeyondNoise(c('full', 0.81, 0.5), c('global', 0.8, 0.5), 5)).toBe(true);
    expect(winsBeyondNoise(c('full', 0.8, 0.5), c('global', 0.8, 0.5), 5)).toBe(false);
    expect(winsBeyondNoise(p('full', [1, 1, 1]), p('global', [0, 0]), 5)).toBe(true);
    expect(winsBeyondNoise(p('full', [1, 1, 1]), c('global', 0.5, 0.5), 5)).toBe(true);
    expect(winsBeyondNoise(c('full', 0.9, 0.5), p('global', [0, 0]), 5)).toBe(true);
  });
});

describe('selectPersonalCandidate with a margin: near-ties keep the global model, then the local-only one', () => {
  const [a4, b4] = pair(100, 4, 0, 80); // a beats b by 0.04 = 2.03 SE
  const [a2, b2] = pair(100, 2, 0, 80); // a beats b by 0.02 = 1.42 SE
  it.each<[string, CandidateScore[], number, CandidateScore['candidate']]>([
    ['a gain of 2.03 SE beats the global model at margin 1', [p('global', b4), p('full', a4)], 1, 'full'],
    ['… and at margin 2', [p('global', b4), p('full', a4)], 2, 'full'],
    ['… but not at margin 2.5: the global model stays', [p('global', b4), p('full', a4)], 2.5, 'global'],
    ['a gain of 1.42 SE: margin 1 takes it, margin 1.5 keeps the global model', [p('global', b2), p('full', a2)], 1, 'full'],
    ['a gain of 1.42 SE at margin 1.5: global', [p('global', b2), p('full', a2)], 1.5, 'global'],
    ['margin 0: the highest accuracy, as without a margin', [p('global', b2), p('full', a2)], 0, 'full'],
    // full 82, local-only 80, global 70 correct of 100: full beats local-only by 1.42 SE, global by 3.67 SE.
    ['the best is within noise of local-only but beyond noise of global: local-only', [p('global', pair(100, 0, 0, 70)[0]), p('local-only', pair(100, 0, 0, 80)[0]), p('full', pair(100, 0, 0, 82)[0])], 1.5, 'local-only'],
    ['… at margin 1 the best', [p('global', pair(100, 0, 0, 70)[0]), p('local-only', pair(100, 0, 0, 80)[0]), p('full', pair(100, 0, 0, 82)[0])], 1, 'full'],
    ['the best beats both beyond noise: the best', [p('global', pair(100, 0, 0, 70)[0]), p('local-only', pair(100, 0, 0, 75)[0]), p('full', a4)], 1, 'full'],
    ['the global model is preferred to local-only when both are within noise', [p('global', b2), p('local-only', b2), p('full', a2)], 1.5, 'global'],
    ['a candidate failing the guard is not the best, even if most accurate', [p('global', b2, 0.5, 0.5), p('full', pair(100, 30, 0, 80)[0], 0.5, 0.4), p('head', a2, 0.5, 0.5)], 1, 'head'],
    ['… and a guard-failing candidate is never the near-tie pick either', [p('global', b4, 0.5, 0.5), p('local-only', a2, 0.5, 0.3), p('full', a4, 0.5, 0.5)], 1.5, 'full'],
  ])('%s', (_name, scores, margin, want) => {
    expect(selectPersonalCandidate(scores, margin).candidate).toBe(want);
  });

  it('among the rest, the first within noise in rank order is the best itself (a near-tie fine-tune is not preferred)', () => {
    // full 80, head 78 (1.42 SE behind: within noise at margin 1.5), global 50.
    const scores = [p('global', pair(100, 0, 0, 50)[0]), p('head', pair(100, 0, 0, 78)[0]), p('full', pair(100, 0, 0, 80)[0])];
    expect(selectPersonalCandidate(scores, 1.5).candidate).toBe('full');
    expect(selectPersonalCandidate([scores[0], scores[2], scores[1]], 1.5).candidate).toBe('full');
  });
});
