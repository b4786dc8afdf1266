import { describe, expect, it } from 'vitest';
import { deriveSeed } from '@fedtune/shared';
import { bestRound, checkCandidateAgainstBest, checkCandidateMetrics, checkCandidateWeights } from '../coordinator/src/engine/model-adoption.ts';
import { fitSeed } from '../coordinator/src/engine/fit-seed.ts';

describe('the model adoption guard (checkCandidateMetrics)', () => {
  const current = { accuracy: 0.642, loss: 11.5 };
  const cases: Array<{ label: string; candidate: { accuracy: number; loss: number }; drop: number; ok: boolean }> = [
    { label: 'a small drop', candidate: { accuracy: 0.45, loss: 12 }, drop: 0.2, ok: true },
    { label: 'exactly the allowed drop', candidate: { accuracy: 0.642 - 0.2, loss: 12 }, drop: 0.2, ok: true },
    { label: 'a collapse whose loss got worse', candidate: { accuracy: 0.4, loss: 12 }, drop: 0.2, ok: false },
    { label: 'a collapse whose loss stayed the same', candidate: { accuracy: 0.4, loss: 11.5 }, drop: 0.2, ok: false },
    { label: 'an accuracy drop with a much lower loss (an overconfident model calibrated)', candidate: { accuracy: 0.4, loss: 0.87 }, drop: 0.2, ok: true },
    { label: 'an accuracy drop with a slightly lower loss', candidate: { accuracy: 0.4, loss: 11.49 }, drop: 0.2, ok: true },
    { label: 'any drop with the check off (1)', candidate: { accuracy: 0, loss: 50 }, drop: 1, ok: true },
    { label: 'a collapse at a tighter bound', candidate: { accuracy: 0.6, loss: 12 }, drop: 0.01, ok: false },
    { label: 'a non-finite loss', candidate: { accuracy: 0.9, loss: NaN }, drop: 1, ok: false },
    { label: 'a non-finite accuracy', candidate: { accuracy: Infinity, loss: 0.1 }, drop: 0.2, ok: false },
  ];
  for (const c of cases)
    it(`${c.label}: ${c.ok ? 'adopted' : 'refused'}`, () => {
      const verdict = checkCandidateMetrics(c.candidate, current, c.drop);
      expect(verdict.ok).toBe(c.ok);
      if (!verdict.ok && Number.isFinite(c.candidate.loss) && Number.isFinite(c.candidate.accuracy)) expect(verdict.reason).toMatch(/collapsed from 0\.6420 .*did not improve/);
    });

  it('names the non-finite metrics it refuses', () => {
    expect(checkCandidateMetrics({ accuracy: 0.5, loss: NaN }, current, 0.2)).toEqual({ ok: false, reason: "the aggregate's holdout metrics are not finite (accuracy 0.5, loss NaN)" });
    expect(checkCandidateMetrics({ accuracy: -Infinity, loss: 1 }, undefined, 0.2)).toEqual({ ok: false, reason: "the aggregate's holdout metrics are not finite (accuracy -Infinity, loss 1)" });
  });

  it('has nothing to compare with before the first model (no current metrics): only finiteness', () => {
    expect(checkCandidateMetrics({ accuracy: 0, loss: 99 }, undefined, 0.2).ok).toBe(true);
    expect(checkCandidateMetrics({ accuracy: 0, loss: -Infinity }, undefined, 0.2).ok).toBe(false);
  });

  it('refuses an aggregate with a non-finite weight, naming where', () => {
    const verdict = checkCandidateWeights([new Float32Array([1, 2]), new Float32Array([3, NaN])]);
    expect(verdict).toEqual({ ok: false, reason: 'the aggregate has a non-finite weight (tensor 1, index 1)' });
    expect(checkCandidateWeights([new Float32Array([1, 2])])).toEqual({ ok: true });
  });
});

describe('the drift check (checkCandidateAgainstBest, bestRound)', () => {
  const best = { round: 7, accuracy: 0.76, loss: 3.25 };
  const cases: Array<{ label: string; candidate: { accuracy: number; loss: number }; drop: number; ok: boolean }> = [
    { label: 'a candidate at the best', candidate: { accuracy: 0.76, loss: 4 }, drop: 0.05, ok: true },
    { label: 'a drop within the allowed', candidate: { accuracy: 0.72, loss: 9 }, drop: 0.05, ok: true },
    { label: 'exactly the allowed drop', candidate: { accuracy: 0.76 - 0.05, loss: 9 }, drop: 0.05, ok: true },
    { label: 'just past the allowed drop, loss higher', candidate: { accuracy: 0.7099, loss: 9 }, drop: 0.05, ok: false },
    { label: 'past the allowed drop, loss equal to the best model’s', candidate: { accuracy: 0.6, loss: 3.25 }, drop: 0.05, ok: false },
    { label: 'past the allowed drop, loss lower than the best model’s', candidate: { accuracy: 0.6, loss: 3.2499 }, drop: 0.05, ok: true },
    { label: 'a drift past a wider bound', candidate: { accuracy: 0.55, loss: 40 }, drop: 0.2, ok: false },
    { label: 'a drift within a wider bound', candidate: { accuracy: 0.57, loss: 40 }, drop: 0.2, ok: true },
    { label: 'any drift with the check off (1)', candidate: { accuracy: 0, loss: 88 }, drop: 1, ok: true },
    { label: 'a drift from the best to 0 just inside the off switch (0.75)', candidate: { accuracy: 0, loss: 88 }, drop: 0.75, ok: false },
    { label: 'any drop at 0', candidate: { accuracy: 0.7599, loss: 4 }, drop: 0, ok: false },
  ];
  for (const c of cases)
    it(`${c.label}: ${c.ok ? 'adopted' : 'refused'}`, () => {
      const verdict = checkCandidateAgainstBest(c.candidate, best, c.drop);
      expect(verdict.ok).toBe(c.ok);
      if (!verdict.ok) {
        expect(verdict.reason).toBe(
          `the aggregate's holdout accuracy ${c.candidate.accuracy.toFixed(4)} is more than ${c.drop} below the run's best, 0.7600 (round 7), and its holdout loss is not lower than that model's (${c.candidate.loss.toFixed(4)}, was 3.2500): a drift away from the best model`,
        );
      }
    });

  it('has nothing to compare with before the first round: every candidate passes', () => {
    expect(checkCandidateAgainstBest({ accuracy: 0, loss: 99 }, undefined, 0)).toEqual({ ok: true });
  });

  it('bestRound: the highest holdout accuracy, the earlier round on a tie, non-finite metrics skipped, none for no rounds', () => {
    const r = (round: number, accuracy: number, loss: number) => ({ round, global: { accuracy, loss } });
    expect(bestRound([])).toBeUndefined();
    expect(bestRound([r(1, NaN, 1), r(2, 0.5, Infinity)])).toBeUndefined();
    expect(bestRound([r(1, 0.56, 1.4), r(2, 0.74, 1.1), r(3, 0.7, 0.9)])).toEqual({ round: 2, accuracy: 0.74, loss: 1.1 });
    expect(bestRound([r(1, 0.7, 2), r(2, 0.7, 1)])).toEqual({ round: 1, accuracy: 0.7, loss: 2 });
    expect(bestRound([r(1, 0.3, 2), r(2, Infinity, 1), r(3, 0.9, NaN), r(4, 0.4, 3)])).toEqual({ round: 4, accuracy: 0.4, loss: 3 });
    expect(bestRound([r(5, 0.2, 9)])).toEqual({ round: 5, accuracy: 0.2, loss: 9 });
  });
});

describe('fitSeed: the training seed of a round attempt', () => {
  it('attempt 1 keeps the seed runs always had; each retry gets another, per site', () => {
    expect(fitSeed(42, 3, 1, 'site-1')).toBe(deriveSeed(42, 'fit', 3, 'site-1'));
    const seeds = [1, 2, 3].map((attempt) => fitSeed(42, 3, attempt, 'site-1'));
    expect(new Set(seeds).size).toBe(3);
    expect(fitSeed(42, 3, 2, 'site-1')).not.toBe(fitSeed(42, 3, 2, 'site-2'));
    expect(fitSeed(42, 3, 2, 'site-1')).toBe(fitSeed(42, 3, 2, 'site-1'));
  });
});
