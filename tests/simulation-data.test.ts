import { describe, expect, it } from 'vitest';
import { runSimulation } from '../cli/src/simulation/run-simulation.ts';
import { siteRunSeed, siteSplitSeed } from '@fedtune/client-node';
import { deriveSeed } from '@fedtune/shared';
import { builtinDigits } from '@fedtune/shared/node';
import { tempDir } from './helpers/federation.ts';

describe('the built-in task without feature shift', () => {
  it('the clean holdout holds the same digits as the rendered one, unrendered', () => {
    const { holdout, holdoutClean } = builtinDigits();
    expect(Array.from(holdoutClean.y)).toEqual(Array.from(holdout.y));
    expect(holdoutClean.x).not.toEqual(holdout.x);
  });

  it('--no-feature-shift evaluates on unshifted digits, where the pretrained model is far better than on the scanners', async () => {
    const base = { sites: 2, rounds: 1, seed: 3, out: tempDir(), transport: 'memory' as const, maxExamples: 16, federatedEvaluation: 'never' as const, robustness: { when: 'never' as const } };
    const shifted = await runSimulation({ ...base });
    const clean = await runSimulation({ ...base, featureShift: false });
    // The committed MLP was pretrained on clean digits: ≈ 90% on them, ≈ 63% through the scanners.
    expect(clean.report.pretrained!.accuracy).toBeGreaterThan(0.85);
    expect(shifted.report.pretrained!.accuracy).toBeLessThan(0.75);
  }, 300_000);
});

describe('a site process splits its data as the simulation does', () => {
  it('the run seed: --seed, else a digits spec @SEED, else the run default', () => {
    expect(siteRunSeed('data.csv', 5, 42)).toBe(5);
    expect(siteRunSeed('digits:1/8@7', 5, 42)).toBe(5);
    expect(siteRunSeed('digits:1/8@7', undefined, 42)).toBe(7);
    expect(siteRunSeed('digits:1/8:iid@9', undefined, 42)).toBe(9);
    expect(siteRunSeed('data@3.csv', undefined, 42)).toBe(42);
    expect(siteRunSeed('data.csv', undefined, 42)).toBe(42);
  });

  it('the split seed depends on the run seed and the site, as in simulate', () => {
    expect(siteSplitSeed(5, 'site-1')).toBe(deriveSeed(5, 'split', 'site-1'));
    expect(siteSplitSeed(5, 'site-1')).not.toBe(siteSplitSeed(0, 'site-1'));
    expect(siteSplitSeed(5, 'site-1')).not.toBe(siteSplitSeed(5, 'site-2'));
  });
});
