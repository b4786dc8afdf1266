import { describe, expect, it } from 'vitest';
import type { RobustnessReport } from '@fedtune/shared';
import { consoleLines } from '../helpers/console-lines.ts';
import { printRobustness } from '../../cli/src/ui/robustness-summary.ts';

/**
 * The robustness block says when its attack rows are on fewer examples than its clean row (a new user compared
 * "clean 70.4% on 500" with PGD on the first 200, whose clean accuracy was 73.0%).
 */
const base = {
  examples: 500,
  adversarialExamples: 200,
  adversarialCleanAccuracy: 0.73,
  clean: { accuracy: 0.704, loss: 1, macroF1: 0.7, ece: 0.05 },
  noise: [],
  corruptionMean: null,
  fgsm: [{ eps: 0.06, accuracy: 0.24 }],
  pgd: [{ eps: 0.06, steps: 40, accuracy: 0.185, stepSize: 0.0037, restarts: 1 }],
  warnings: [],
} as unknown as RobustnessReport;

describe('printRobustness: the attacked examples', () => {
  it.each([
    ['fewer attacked than evaluated: a line with their count and clean accuracy before the attack rows', base, '  attacks on the first 200 of them (clean 73.0% there):'],
    ['no clean accuracy of them: the count alone', { ...base, adversarialCleanAccuracy: null }, '  attacks on the first 200 of them:'],
    ['all attacked: no line', { ...base, adversarialExamples: 500 }, undefined],
    ['none attacked: no line', { ...base, adversarialExamples: 0, fgsm: [], pgd: [] }, undefined],
  ] as const)('%s', (_label, report, line) => {
    const lines = consoleLines(() => printRobustness(report as RobustnessReport, ''));
    const attacked = lines.filter((l) => l.includes('attacks on the first'));
    if (line === undefined) expect(attacked).toEqual([]);
    else {
      expect(attacked).toEqual([line]);
      expect(lines.indexOf(line)).toBe(lines.findIndex((l) => l.startsWith('  FGSM:')) - 1);
    }
  });
});
