import { describe, expect, it } from 'vitest';
import { RobustnessEvaluationConfig, robustnessParts } from '@fedtune/shared';

const parts = (c: Record<string, unknown>) => robustnessParts(RobustnessEvaluationConfig.parse(c));

describe('robustnessParts: what the progress line says a robustness evaluation measures', () => {
  it.each([
    ['the defaults', {}, ['noise', 'corruptions', 'FGSM', 'PGD']],
    ['the spam task (input-space parts off)', { noise: false, corruptions: false, fgsm: false, pgd: false }, []],
    ['an empty list is off', { noise: [], fgsm: [] }, ['corruptions', 'PGD']],
    ['a corruption list', { corruptions: ['blur'] }, ['noise', 'corruptions', 'FGSM', 'PGD']],
    ['no corruptions', { corruptions: [] }, ['noise', 'FGSM', 'PGD']],
    ['PGD-L2 asked', { pgdL2: true }, ['noise', 'corruptions', 'FGSM', 'PGD', 'PGD-L2']],
    ['PGD-L2 radii', { pgdL2: [0.5] }, ['noise', 'corruptions', 'FGSM', 'PGD', 'PGD-L2']],
    ['PGD-L2 off or empty', { pgdL2: [] }, ['noise', 'corruptions', 'FGSM', 'PGD']],
    ['Square', { square: [0.06] }, ['noise', 'corruptions', 'FGSM', 'PGD', 'Square']],
    ['Square true', { square: true, pgd: false }, ['noise', 'corruptions', 'FGSM', 'Square']],
    ['certification', { certify: {} }, ['noise', 'corruptions', 'FGSM', 'PGD', 'certification']],
  ] as const)('%s', (_, config, expected) => {
    expect(parts(config)).toEqual(expected);
  });
});
