import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dominates, paretoFront, type ParetoPoint } from '../../cli/src/sweep/pareto-front.ts';
import { frontOf } from '../../cli/src/sweep/run-sweep.ts';
import type { TrialResult } from '../../cli/src/sweep/sweep-record.ts';

// Accuracies on a coarse grid so that ties (equal clean, equal robust, identical points) are common.
const acc = fc.integer({ min: 0, max: 10 }).map((k) => k / 10);
const points = fc.array(fc.record({ clean: acc, robust: acc }), { maxLength: 40 }).map((ps) => ps.map((p, trial): ParetoPoint => ({ trial, ...p })));

describe('the Pareto front of clean vs robust accuracy', () => {
  it('no front point is dominated by any point', () => {
    fc.assert(fc.property(points, (ps) => paretoFront(ps).every((f) => !ps.some((p) => dominates(p, f)))), { numRuns: 500 });
  });

  it('every point off the front is dominated by some point on it', () => {
    fc.assert(
      fc.property(points, (ps) => {
        const front = paretoFront(ps);
        const on = new Set(front.map((f) => f.trial));
        return ps.filter((p) => !on.has(p.trial)).every((p) => front.some((f) => dominates(f, p)));
      }),
      { numRuns: 500 },
    );
  });

  it('is the same whatever order the trials come in, and holds each trial at most once', () => {
    fc.assert(
      fc.property(points, fc.integer(), (ps, seed) => {
        const shuffled = [...ps].sort((a, b) => ((a.trial * 7919 + seed) % 97) - ((b.trial * 7919 + seed) % 97));
        const ids = paretoFront(ps).map((p) => p.trial);
        return JSON.stringify(paretoFront(shuffled).map((p) => p.trial)) === JSON.stringify(ids) && new Set(ids).size === ids.length;
      }),
      { numRuns: 300 },
    );
  });

  it('ties: identical points are on the front together; equal clean with lower robust is off', () => {
    const front = paretoFront([
      { trial: 0, clean: 0.9, robust: 0.2 },
      { trial: 1, clean: 0.9, robust: 0.2 },
      { trial: 2, clean: 0.9, robust: 0.1 },
      { trial: 3, clean: 0.8, robust: 0.2 },
      { trial: 4, clean: 0.7, robust: 0.5 },
    ]);
    expect(front.map((p) => p.trial)).toEqual([0, 1, 4]);
    expect(paretoFront([])).toEqual([]);
  });

  it('a sweep\'s front uses each trial at its last rung and leaves out failed trials', () => {
    const r = (trial: number, rung: number, clean: number | null, robust: number | null, status: 'complete' | 'failed' = 'complete') =>
      ({ trial, rung, rounds: rung + 1, params: {}, status, clean, robust, ece: null, score: null, durationMs: 0, runId: 'x', reportPath: null }) as TrialResult;
    // Trial 0 dominates trial 1 at rung 0, but at rung 1 it fell below trial 1's only result.
    expect(frontOf([r(0, 0, 0.9, 0.9), r(1, 0, 0.8, 0.8), r(0, 1, 0.5, 0.5), r(2, 0, null, null, 'failed')])).toEqual([1]);
  });
});
