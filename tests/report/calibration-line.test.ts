import { describe, expect, it } from 'vitest';
import { calibrationLine } from '../../cli/src/ui/robustness-summary.ts';

const c = (over: object) => ({ temperature: 1.7, source: 'federated', fittedOn: 400, eceBefore: 0.045, eceAfter: 0.049, nllBefore: 0.635, nllAfter: 0.636, reliabilityAfter: [], ...over }) as never;

describe('the calibration line of the robustness summary', () => {
  it('better after: the numbers only', () => {
    expect(calibrationLine(c({ nllAfter: 0.6 }))).toBe('calibration: T=1.700 (federated), ECE 0.045 → 0.049, NLL 0.635 → 0.600');
    expect(calibrationLine(c({ nllAfter: 0.635 }))).not.toMatch(/no better/);
  });

  it.each([
    ['federated', "the sites' validation splits"],
    ['holdout', '400 holdout examples'],
    ['override', 'no data (given)'],
  ] as const)('worse after (%s): says where T was fitted, not a worse number without comment', (source, where) => {
    expect(calibrationLine(c({ source }))).toBe(`calibration: T=1.700 (${source}), ECE 0.045 → 0.049, NLL 0.635 → 0.636 — no better on these examples: T was fitted on ${where}`);
  });
});
