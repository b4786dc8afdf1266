import { describe, expect, it } from 'vitest';
import { adversarialRegimeStart, adversarialTrainingOn, deriveSeed, warmedUpTrain } from '@fedtune/shared';
import { ADVERSARIAL_DRIFT_SIGMAS, adversarialDriftTolerance, bestRound, checkCandidateAgainstBest, checkCandidateMetrics, checkCandidateWeights } from '../coordinator/src/engine/model-adoption.ts';
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

  it('bestRound since a round: the rounds before it left out, and said', () => {
    const r = (round: number, accuracy: number, loss: number) => ({ round, global: { accuracy, loss } });
    const rounds = [r(7, 0.81, 0.6), r(8, 0.79, 0.7), r(10, 0.74, 0.8), r(11, 0.72, 0.9)];
    expect(bestRound(rounds, 1)).toEqual({ round: 7, accuracy: 0.81, loss: 0.6 });
    expect(bestRound(rounds, 7)).toEqual({ round: 7, accuracy: 0.81, loss: 0.6, since: 7 });
    expect(bestRound(rounds, 8)).toEqual({ round: 8, accuracy: 0.79, loss: 0.7, since: 8 });
    expect(bestRound(rounds, 9)).toEqual({ round: 10, accuracy: 0.74, loss: 0.8, since: 9 });
    expect(bestRound(rounds, 12)).toBeUndefined();
    // The reason names where the reference was chosen from.
    expect(checkCandidateAgainstBest({ accuracy: 0.6, loss: 1 }, bestRound(rounds, 10), 0.05)).toEqual({
      ok: false,
      reason: "the aggregate's holdout accuracy 0.6000 is more than 0.05 below the best since round 10 (when the training's ε last changed), 0.7400 (round 10), and its holdout loss is not lower than that model's (1.0000, was 0.8000): a drift away from the best model",
    });
  });
});

describe('adversarialDriftTolerance: the allowed drop under adversarial training follows the regime\'s spread', () => {
  const r = (round: number, accuracy: number) => ({ round, global: { accuracy } });
  // The robust preset's cnn-dense rounds 10–15 after its warm-up (σ ≈ 0.022).
  const preset = [r(9, 0.99), r(10, 0.774), r(11, 0.743), r(12, 0.767), r(13, 0.755), r(14, 0.728), r(15, 0.789)];
  const cases: Array<[string, Parameters<typeof adversarialDriftTolerance>[0], number, number, number, number]> = [
    ['4 σ of the regime (round 9 left out), rounded to 4 decimals', preset, 10, 0.05, 0.2, 0.088],
    ['the whole run when the regime starts at 1 (round 9 in it)', preset, 1, 0.05, 0.2, 0.2],
    ['never below the base', [r(1, 0.8), r(2, 0.8), r(3, 0.81)], 1, 0.05, 0.2, 0.05],
    ['never above the cap', [r(1, 0.2), r(2, 0.9), r(3, 0.5)], 1, 0.05, 0.2, 0.2],
    ['a cap of 1 (collapse check off) lets the spread decide', [r(1, 0.2), r(2, 0.9), r(3, 0.5)], 1, 0.05, 1, 1],
    ['two rounds are too few to say: the base', [r(1, 0.5), r(2, 0.9)], 1, 0.05, 0.2, 0.05],
    ['three are enough', [r(1, 0.7), r(2, 0.74), r(3, 0.78)], 1, 0.05, 0.2, 0.16],
    ['non-finite accuracies are not counted', [r(1, 0.7), r(2, NaN), r(3, 0.78)], 1, 0.05, 0.2, 0.05],
    ['rounds before the regime are not counted', [r(1, 0.1), r(2, 0.7), r(3, 0.74), r(4, 0.78)], 2, 0.05, 0.2, 0.16],
  ];
  it.each(cases)('%s', (_what, rounds, since, base, cap, expected) => {
    expect(adversarialDriftTolerance(rounds, since, base, cap)).toBe(expected);
  });
  it('ADVERSARIAL_DRIFT_SIGMAS is 4', () => expect(ADVERSARIAL_DRIFT_SIGMAS).toBe(4));
});

describe('adversarialTrainingOn', () => {
  const pgd = { method: 'pgd' as const, eps: 0.1, steps: 7, share: 1 };
  it.each([
    ['none', {}, false],
    ['PGD', { adversarial: pgd }, true],
    ['ε 0', { adversarial: { ...pgd, eps: 0 } }, false],
    ['share 0', { adversarial: { ...pgd, share: 0 } }, false],
    ['a little of each', { adversarial: { ...pgd, eps: 1e-6, share: 0.01 } }, true],
  ] as const)('%s', (_what, train, on) => expect(adversarialTrainingOn(train)).toBe(on));
});

describe("adversarialRegimeStart: the rounds the drift guard compares a round's model with", () => {
  const pgd = { method: 'pgd' as const, eps: 0.1, steps: 7, share: 1 };
  const cases: Array<[string, Parameters<typeof adversarialRegimeStart>[0], number, number]> = [
    ['no adversarial training: the whole run', {}, 30, 1],
    ['adversarial training without a warm-up: the whole run', { adversarial: pgd }, 30, 1],
    ['a warm-up round: its own regime (ε grows every round)', { adversarial: { ...pgd, warmupRounds: 10 } }, 4, 4],
    ['the first warm-up round', { adversarial: { ...pgd, warmupRounds: 10 } }, 1, 1],
    ['the warm-up\'s last round, the first at full ε', { adversarial: { ...pgd, warmupRounds: 10 } }, 10, 10],
    ['after the warm-up: from its last round on', { adversarial: { ...pgd, warmupRounds: 10 } }, 11, 10],
    ['long after it', { adversarial: { ...pgd, warmupRounds: 10 } }, 240, 10],
    ['a warm-up of 0 rounds is none', { adversarial: { ...pgd, warmupRounds: 0 } }, 5, 1],
  ];
  it.each(cases)('%s', (_what, train, round, start) => {
    expect(adversarialRegimeStart(train, round)).toBe(start);
    // ε is the same over the regime, and differs in the round before it.
    const eps = (r: number) => warmedUpTrain(train, r).adversarial?.eps;
    for (let r = start; r <= round; r++) expect(eps(r)).toBe(eps(round));
    if (start > 1) expect(eps(start - 1)).not.toBe(eps(round));
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
