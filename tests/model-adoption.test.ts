import { describe, expect, it } from 'vitest';
import { deriveSeed } from '@fedtune/shared';
import { checkCandidateMetrics, checkCandidateWeights } from '../coordinator/src/engine/model-adoption.ts';
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

describe('fitSeed: the training seed of a round attempt', () => {
  it('attempt 1 keeps the seed runs always had; each retry gets another, per site', () => {
    expect(fitSeed(42, 3, 1, 'site-1')).toBe(deriveSeed(42, 'fit', 3, 'site-1'));
    const seeds = [1, 2, 3].map((attempt) => fitSeed(42, 3, attempt, 'site-1'));
    expect(new Set(seeds).size).toBe(3);
    expect(fitSeed(42, 3, 2, 'site-1')).not.toBe(fitSeed(42, 3, 2, 'site-2'));
    expect(fitSeed(42, 3, 2, 'site-1')).toBe(fitSeed(42, 3, 2, 'site-1'));
  });
});
