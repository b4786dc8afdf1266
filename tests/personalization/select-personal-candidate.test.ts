import { describe, expect, it } from 'vitest';
import { AUTO_CANDIDATES, MAX_REPORTED_LOSS, passesRobustnessGuard, PersonalizationSettings, ranksAbove, selectPersonalCandidate, SiteReportResult, type CandidateScore } from '@fedtune/shared';

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
