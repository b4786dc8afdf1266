import { describe, expect, it } from 'vitest';
import { pairedDifference } from '@fedtune/shared';

describe('pairedDifference: mean and standard error of a paired per-example difference', () => {
  it.each([
    // d = [1, 0, 0, 0]: mean 0.25, sample var = (0.75² + 3·0.25²)/3 = 0.25, SE = √(0.25/4) = 0.25
    ['one win in four', [1, 1, 0, 1], [0, 1, 0, 1], 0.25, 0.25],
    // d = [1, -1]: mean 0, sample var = 2, SE = √(2/2) = 1
    ['a win and a loss', [1, 0], [0, 1], 0, 1],
    // d = [0, 0, 0]: no disagreement, no noise
    ['identical', [1, 0, 1], [1, 0, 1], 0, 0],
    // d = [1, 1, 1, 1]: a constant gain has no noise
    ['always better', [1, 1, 1, 1], [0, 0, 0, 0], 1, 0],
    // d = [-1, 0, 0, 0, 0]: mean -0.2, var = (0.8² + 4·0.2²)/4 = 0.2, SE = √(0.2/5) = 0.2
    ['one loss in five', [0, 1, 1, 1, 1], [1, 1, 1, 1, 1], -0.2, 0.2],
  ])('%s', (_name, a, b, mean, se) => {
    const d = pairedDifference(Uint8Array.from(a), Uint8Array.from(b));
    expect(d.mean).toBeCloseTo(mean, 12);
    expect(d.standardError).toBeCloseTo(se, 12);
  });

  it('a single pair has a mean but no noise estimate (infinite standard error)', () => {
    expect(pairedDifference([1], [0])).toEqual({ mean: 1, standardError: Infinity });
  });

  it('no pairs: mean 0, infinite standard error', () => {
    expect(pairedDifference([], [])).toEqual({ mean: 0, standardError: Infinity });
  });

  it('different lengths are refused', () => {
    expect(() => pairedDifference([1, 0], [1])).toThrow(/different lengths \(2 and 1\)/);
  });
});
