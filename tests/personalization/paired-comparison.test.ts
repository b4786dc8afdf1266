import { describe, expect, it } from 'vitest';
// From the files (the mutation run loads them fast).
import { betterBeyondNoise, NOISE_STANDARD_ERRORS, pairedComparisonStats, pairedCounts, worseBeyondNoise } from '../../shared/src/personalization/paired-comparison.ts';
import { pairedDifference } from '../../shared/src/personalization/paired-difference.ts';
import { summarizeSiteReports, type SiteReportEntry } from '../../shared/src/report/site-report-section.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';

describe('paired comparison of two models on one test split, from wins and losses only', () => {
  it('pairedCounts: examples only a gets right, only b gets right; ties of either kind count for neither', () => {
    expect(pairedCounts([1, 1, 0, 0, 1, 0], [1, 0, 1, 0, 0, 1])).toEqual({ wins: 2, losses: 2 });
    expect(pairedCounts([1, 1, 1], [0, 0, 0])).toEqual({ wins: 3, losses: 0 });
    expect(pairedCounts([0, 0], [1, 1])).toEqual({ wins: 0, losses: 2 });
    expect(pairedCounts([], [])).toEqual({ wins: 0, losses: 0 });
    expect(() => pairedCounts([1], [1, 0])).toThrow(RangeError);
  });

  it('pairedComparisonStats gives exactly what pairedDifference gives from the per-example scores', () => {
    const rng = new SeededRandom(5);
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(rng.next() * 300);
      const pa = rng.next();
      const pb = rng.next();
      const a = Array.from({ length: n }, () => (rng.next() < pa ? 1 : 0));
      const b = Array.from({ length: n }, () => (rng.next() < pb ? 1 : 0));
      const fromCounts = pairedComparisonStats(pairedCounts(a, b), n);
      const direct = pairedDifference(a, b);
      expect(fromCounts.difference).toBeCloseTo(direct.mean, 12);
      expect(fromCounts.standardError).toBeCloseTo(direct.standardError, 12);
    }
  });

  it('exact numbers: 10 wins, 4 losses of 100 → +0.06 ± √((14 − 0.36) / 99 / 100)', () => {
    const s = pairedComparisonStats({ wins: 10, losses: 4 }, 100);
    expect(s.difference).toBe(0.06);
    expect(s.standardError).toBeCloseTo(Math.sqrt((14 - 0.36) / 99 / 100), 15);
    // Identical models: no difference, no spread.
    expect(pairedComparisonStats({ wins: 0, losses: 0 }, 50)).toEqual({ difference: 0, standardError: 0 });
    // Fewer than two examples: no evidence either way.
    expect(pairedComparisonStats({ wins: 1, losses: 0 }, 1)).toEqual({ difference: 1, standardError: Infinity });
    expect(pairedComparisonStats({ wins: 0, losses: 0 }, 0)).toEqual({ difference: 0, standardError: Infinity });
  });

  it('beyond noise at 2 standard errors, on both sides of the boundary', () => {
    expect(NOISE_STANDARD_ERRORS).toBe(2);
    // Every differing example goes one way: d = −k/n, se = √((k − n·d²)/(n − 1)/n).
    const n = 100;
    const z = (k: number) => { const d = k / n; return d / Math.sqrt((k - n * d * d) / (n - 1) / n); };
    // 3 losses of 100: z ≈ 1.74 (noise); 4 losses: z ≈ 2.02 (beyond).
    expect(z(3)).toBeLessThan(2);
    expect(z(4)).toBeGreaterThan(2);
    expect(worseBeyondNoise({ wins: 0, losses: 3 }, n)).toBe(false);
    expect(worseBeyondNoise({ wins: 0, losses: 4 }, n)).toBe(true);
    expect(betterBeyondNoise({ wins: 3, losses: 0 }, n)).toBe(false);
    expect(betterBeyondNoise({ wins: 4, losses: 0 }, n)).toBe(true);
    // Worse is never better, and a tie is neither.
    expect(betterBeyondNoise({ wins: 0, losses: 4 }, n)).toBe(false);
    expect(worseBeyondNoise({ wins: 4, losses: 0 }, n)).toBe(false);
    expect(worseBeyondNoise({ wins: 0, losses: 0 }, n)).toBe(false);
    expect(betterBeyondNoise({ wins: 0, losses: 0 }, n)).toBe(false);
    // z is a parameter: at z = 1, 3 losses is beyond.
    expect(worseBeyondNoise({ wins: 0, losses: 3 }, n, 1)).toBe(true);
    expect(betterBeyondNoise({ wins: 3, losses: 0 }, n, 1)).toBe(true);
    // One example: never beyond noise.
    expect(worseBeyondNoise({ wins: 0, losses: 1 }, 1)).toBe(false);
  });

  it('summarizeSiteReports counts the sites beyond noise, per arm and per side; none without comparisons', () => {
    const arm = (accuracy: number) => ({ accuracy, loss: 0.5 });
    const site = (siteId: string, comparisons: SiteReportEntry['comparisons']): SiteReportEntry => ({
      siteId, numExamples: 100, durationMs: 1, comparisons, arms: { localOnly: arm(0.8), global: arm(0.8), personalized: arm(0.8) },
    });
    const sites = [
      site('a', { localOnly: { wins: 0, losses: 4 }, global: { wins: 4, losses: 0 } }), // worse than local-only, better than global
      site('b', { localOnly: { wins: 0, losses: 3 }, global: { wins: 0, losses: 0 } }), // noise both
      site('c', { localOnly: { wins: 10, losses: 0 }, global: { wins: 0, losses: 9 } }), // better than local-only, worse than global
      site('d', { global: { wins: 20, losses: 1 } }), // no local-only comparison
      site('e', undefined),
    ];
    expect(summarizeSiteReports(sites).counts!.beyondNoise).toEqual({ standardErrors: 2, worseThanLocalOnly: 1, betterThanLocalOnly: 1, worseThanGlobal: 1, betterThanGlobal: 2 });
    expect(summarizeSiteReports(sites.map((s) => ({ ...s, comparisons: undefined }))).counts!.beyondNoise).toBeUndefined();
  });
});
