import { describe, expect, it } from 'vitest';
import { promote, promotedCount, rungRounds } from '../../cli/src/sweep/successive-halving.ts';
import { runSweep } from '../../cli/src/sweep/run-sweep.ts';
import { tempDir } from '../helpers/federation.ts';
import { fakeRunner, lrOf, settings } from './fake-trials.ts';

describe('rungs and promotions', () => {
  it.each([
    [1, 9, 3, [1, 3, 9]],
    [1, 10, 3, [1, 3, 9, 10]],
    [2, 8, 2, [2, 4, 8]],
    [3, 3, 3, [3]],
    [1, 27, 3, [1, 3, 9, 27]],
  ])('min %i, max %i, η %i → rungs %j', (min, max, eta, want) => expect(rungRounds(min, max, eta)).toEqual(want));

  it('refuses rungs that cannot be', () => {
    expect(() => rungRounds(5, 4, 3)).toThrow(/min-rounds ≤ max-rounds/);
    expect(() => rungRounds(1, 4, 1)).toThrow(/eta must be an integer ≥ 2/);
  });

  it.each([
    [9, 3, 3],
    [8, 3, 2],
    [2, 3, 1],
    [1, 2, 1],
    [0, 3, 0],
    [10, 2, 5],
  ])('%i trials with η %i promote %i', (n, eta, want) => expect(promotedCount(n, eta)).toBe(want));

  it('promotes the best by score; equal scores go to the lower trial; failed trials never', () => {
    expect(promote([{ trial: 0, score: 0.5 }, { trial: 1, score: 0.9 }, { trial: 2, score: 0.7 }, { trial: 3, score: 0.1 }, { trial: 4, score: 0.2 }, { trial: 5, score: 0.3 }], 3)).toEqual([1, 2]);
    expect(promote([{ trial: 4, score: 0.5 }, { trial: 2, score: 0.5 }, { trial: 7, score: 0.5 }], 3)).toEqual([2]);
    expect(promote([{ trial: 5, score: 0.5 }, { trial: 3, score: 0.5 }, { trial: 1, score: 0.4 }, { trial: 0, score: 0.5 }], 2)).toEqual([0, 3]);
    expect(promote([{ trial: 0, score: null }, { trial: 1, score: null }, { trial: 2, score: 0.1 }], 3)).toEqual([2]);
    expect(promote([{ trial: 0, score: null }], 3)).toEqual([]);
  });
});

describe('a sweep with successive halving', () => {
  it('9 trials, η = 3, rounds 1 → 3 → 9: runs 9, 3 and 1 trials, promoting the best by the objective', async () => {
    const lrs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    // Clean accuracy rises with the learning rate, robust accuracy falls: the objective decides who goes on.
    const { run, calls } = fakeRunner((c) => [lrOf(c), 1 - lrOf(c)]);
    const s = settings({ space: { 'train.learningRate': lrs }, minRounds: 1, maxRounds: 9, eta: 3, objective: 'clean' });
    const record = await runSweep({ dir: tempDir(), settings: s, runSimulation: run });
    const byRung = (r: number) => record.results.filter((x) => x.rung === r);
    expect(record.rungs).toEqual([1, 3, 9]);
    expect([0, 1, 2].map((r) => byRung(r).length)).toEqual([9, 3, 1]);
    expect(byRung(1).map((x) => x.trial)).toEqual([8, 7, 6]);
    expect(byRung(2).map((x) => x.trial)).toEqual([8]);
    expect(calls.map((c) => c.rounds)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 9]);
    expect(calls.slice(9).map((c) => c.runId)).toEqual(['trial-008-r3', 'trial-007-r3', 'trial-006-r3', 'trial-008-r9']);
    expect(record.status).toBe('complete');
  });

  it.each([
    ['robust', [0, 1, 2], [0]],
    ['balanced', [0, 1, 2], [0]],
  ] as const)('objective %s promotes by its own metric', async (objective, rung1, rung2) => {
    const { run } = fakeRunner((c) => [lrOf(c), 1 - lrOf(c)]);
    const s = settings({ space: { 'train.learningRate': [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] }, objective, maxRounds: 9 });
    const record = await runSweep({ dir: tempDir(), settings: s, runSimulation: run });
    // balanced: clean + robust = 1 for every trial, a nine-way tie: the lowest trial numbers go on.
    expect(record.results.filter((x) => x.rung === 1).map((x) => x.trial)).toEqual(rung1);
    expect(record.results.filter((x) => x.rung === 2).map((x) => x.trial)).toEqual(rung2);
  });

  it('a trial that fails is recorded with its reason and not promoted', async () => {
    const { run } = fakeRunner((c) => {
      if (lrOf(c) === 0.9) throw new Error('boom: out of memory');
      return [lrOf(c), 0.5];
    });
    const s = settings({ space: { 'train.learningRate': [0.3, 0.6, 0.9] }, objective: 'clean', maxRounds: 3 });
    const record = await runSweep({ dir: tempDir(), settings: s, runSimulation: run });
    const failed = record.results.find((r) => r.trial === 2)!;
    expect(failed).toMatchObject({ status: 'failed', score: null, reportPath: null });
    expect(failed.error).toMatch(/boom: out of memory/);
    expect(record.results.filter((r) => r.rung === 1).map((r) => r.trial)).toEqual([1]);
  });
});
