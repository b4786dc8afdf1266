import { describe, expect, it } from 'vitest';
import { aggregateDistributedDpSecureSum, resolveDpNoise } from '@fedtune/coordinator';
import {
  checkSecAggInstruction,
  distributedFixedPoint,
  distributedNoiseOf,
  FedtuneError,
  fixedPointConfig,
  SecureAggInstruction,
  siteNoiseVariance,
  survivorsNoiseMultiplier,
} from '@fedtune/shared';

const params = { noiseMultiplier: 1.5, clip: 0.5, threshold: 3, weight: 0.25 };

describe('distributed DP rules', () => {
  it('σ_site² = (z·C·s·w)²/t exactly', () => {
    expect(siteNoiseVariance(params, 1000)).toBe(187.5 ** 2 / 3);
  });

  it('the scale leaves 10σ of the full sum\'s noise as headroom; with z = 0 it is the plain fixed-point scale', () => {
    const fp = distributedFixedPoint({ range: 0.5, maxTotalWeight: 1, sites: 4, vectorLength: 100, ...params });
    const sigmaMax = 1.5 * 0.5 * 0.25 * Math.sqrt(4 / 3);
    expect(fp.scale).toBe((2 ** 31 - 1 - 4) / (1 + 10 * sigmaMax));
    expect(fp).toMatchObject({ range: 0.5, maxTotalWeight: 1 });
    const plain = distributedFixedPoint({ range: 0.5, maxTotalWeight: 1, sites: 4, vectorLength: 100, ...params, noiseMultiplier: 0 });
    expect(plain.scale).toBe(fixedPointConfig({ range: 0.5, maxTotalWeight: 1, sites: 4 }).scale);
  });

  it.each([
    ['noise too large for the resolution', { noiseMultiplier: 1000, vectorLength: 2 ** 27 }, /too coarse/],
    ['noise too small to be a discrete Gaussian sum', { noiseMultiplier: 1e-12, vectorLength: 10 }, /below 4/],
  ])('refuses a round whose %s, with a clear config error', (_, o, message) => {
    const attempt = () => distributedFixedPoint({ range: 0.5, maxTotalWeight: 1, sites: 4, ...params, ...o });
    expect(attempt).toThrow(FedtuneError);
    expect(attempt).toThrow(message);
  });

  it('the accountant\'s multiplier: sqrt(n\'/t)·z·C·s·w over s·w·C + √d/2', () => {
    const scale = 1e6;
    const sens = scale * 0.25 * 0.5;
    expect(survivorsNoiseMultiplier(params, { survivors: 5, scale, vectorLength: 400 })).toBe(Math.sqrt((5 / 3) * (1.5 * 0.5 * scale * 0.25) ** 2) / (sens + 10));
    expect(survivorsNoiseMultiplier(params, { survivors: 0, scale, vectorLength: 400 })).toBe(0);
    expect(() => survivorsNoiseMultiplier(params, { survivors: 1.5, scale, vectorLength: 4 })).toThrow(FedtuneError);
  });

  it.each([
    [undefined, true, 'distributed'],
    [undefined, false, 'central'],
    ['central', true, 'central'],
    ['central', false, 'central'],
    ['distributed', true, 'distributed'],
  ] as const)('dp.noise %s with secure aggregation %s → %s', (noise, secagg, want) => {
    expect(resolveDpNoise({ noise }, secagg)).toBe(want);
  });

  it('dp.noise distributed without secure aggregation is a config error saying so', () => {
    expect(() => resolveDpNoise({ noise: 'distributed' }, false)).toThrow(/needs secure aggregation/);
  });

  it('the coordinator adds nothing: global + the unmasked sum', () => {
    const r = aggregateDistributedDpSecureSum([Float32Array.of(1, 2)], [Float32Array.of(0.5, -0.25)], 0.7);
    expect(r).toEqual({ weights: [Float32Array.of(1.5, 1.75)], clip: 0.7, nextClip: 0.7, clippedShare: null });
  });
});

describe('the site checks the coordinator\'s noise parameters', () => {
  const sites = ['site-1', 'site-2', 'site-3', 'site-4'];
  const base = () => {
    const p = { noiseMultiplier: 1.5, clip: 0.5, threshold: 3, weight: 0.25 };
    const fixedPoint = distributedFixedPoint({ range: 0.5, maxTotalWeight: 1, sites: 4, vectorLength: 10, ...p });
    return {
      attempt: 1, sites, threshold: 3, vectorLength: 10, fixedPoint, clip: 0.5, weighting: 'uniform' as const, weightDenominator: 4,
      distributedNoise: { mechanism: 'discrete-gaussian' as const, noiseMultiplier: 1.5, variance: siteNoiseVariance(p, fixedPoint.scale) },
    };
  };
  const check = (i: unknown) => checkSecAggInstruction(SecureAggInstruction.parse(i), { siteId: 'site-1', round: 1, parameterCount: 10 });

  it('accepts consistent parameters', () => {
    expect(() => check(base())).not.toThrow();
  });

  it.each([
    ['a variance off by 1e-6', (i: ReturnType<typeof base>) => ({ ...i, distributedNoise: { ...i.distributedNoise, variance: i.distributedNoise.variance * (1 + 1e-6) } }), /does not match/],
    ['a zero variance for z > 0', (i: ReturnType<typeof base>) => ({ ...i, distributedNoise: { ...i.distributedNoise, variance: 0 } }), /does not match/],
    ['examples weighting', (i: ReturnType<typeof base>) => ({ ...i, weighting: 'examples' }), /uniformly/],
    ['a scale without headroom', (i: ReturnType<typeof base>) => {
      const fixedPoint = fixedPointConfig({ range: 0.5, maxTotalWeight: 1, sites: 4 });
      return { ...i, fixedPoint, distributedNoise: { ...i.distributedNoise, variance: siteNoiseVariance({ noiseMultiplier: 1.5, clip: 0.5, threshold: 3, weight: 0.25 }, fixedPoint.scale) } };
    }, /no room for the noise/],
  ])('refuses %s (malformed_payload)', (_, edit, message) => {
    const attempt = () => check(edit(base()));
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(expect.objectContaining({ code: 'malformed_payload' }));
  });

  it.each([
    ['a negative variance', { variance: -1 }],
    ['a variance above 2^62', { variance: 2 ** 63 }],
    ['another mechanism', { mechanism: 'skellam' }],
    ['z above 1000', { noiseMultiplier: 1001 }],
    ['a non-finite variance', { variance: Infinity }],
  ])('the wire schema refuses %s', (_, edit) => {
    const i = base();
    expect(SecureAggInstruction.safeParse({ ...i, distributedNoise: { ...i.distributedNoise, ...edit } }).success).toBe(false);
  });

  it('the site\'s noise source: none without noise; a simulation seed gives a stream per site, round and attempt', () => {
    const i = SecureAggInstruction.parse(base());
    expect(distributedNoiseOf({ ...i, distributedNoise: undefined }, { siteId: 'site-1', round: 1 })).toBeUndefined();
    expect(distributedNoiseOf({ ...i, distributedNoise: { ...i.distributedNoise!, variance: 0 } }, { siteId: 'site-1', round: 1 })).toBeUndefined();
    const bytes = (siteId: string, round: number, seed?: number) => Array.from(distributedNoiseOf(i, { siteId, round, simulationSeed: seed })!.randomBytes(16));
    expect(distributedNoiseOf(i, { siteId: 'site-1', round: 1 })!.variance).toBe(i.distributedNoise!.variance);
    expect(bytes('site-1', 1, 5)).toEqual(bytes('site-1', 1, 5));
    expect(bytes('site-1', 1, 5)).not.toEqual(bytes('site-2', 1, 5));
    expect(bytes('site-1', 1, 5)).not.toEqual(bytes('site-1', 2, 5));
    expect(bytes('site-1', 1)).not.toEqual(bytes('site-1', 1));
  });
});
