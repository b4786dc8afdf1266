import { expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { trialMetrics } from '../../cli/src/sweep/trial-metrics.ts';

// A sweep's ECE is the saved model's: after the temperature it carries, when the run fitted one (a new user saw the
// ranking flip: 0.115 → 0.035 after T for one trial, 0.050 → 0.056 for another).
const report = (calibration?: { eceAfter: number }) =>
  ({ status: 'complete', final: { accuracy: 0.8 }, finalRobustness: { clean: { accuracy: 0.8, ece: 0.115 }, pgd: [{ eps: 0.06, steps: 3, stepSize: 0.01, accuracy: 0.3 }], ...(calibration ? { calibration } : {}) } }) as unknown as RunReport;

it.each([
  ['a temperature fitted: the ECE after it', report({ eceAfter: 0.035 }), 0.035],
  ['none: the ECE of the model as it is', report(), 0.115],
])('%s', (_label, r, ece) => {
  expect(trialMetrics(r, 0.06)).toEqual({ status: 'complete', clean: 0.8, robust: 0.3, ece });
});

it('clean is the holdout accuracy (the run\'s final), not the robustness sample\'s; the sample\'s only without a final', () => {
  const r = { status: 'complete', final: { accuracy: 0.647 }, finalRobustness: { clean: { accuracy: 0.74, ece: 0.1 }, pgd: [{ eps: 0.06, steps: 3, stepSize: 0.01, accuracy: 0.3 }] } } as unknown as RunReport;
  expect(trialMetrics(r, 0.06).clean).toBe(0.647);
  expect(trialMetrics({ ...r, final: undefined }, 0.06).clean).toBe(0.74);
});
