import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  aggregateClippedDp,
  aggregateDp,
  aggregateDpSecureSum,
  clipDelta,
  DpConfig,
  dpNoiseRandom,
} from '../../coordinator/src/engine/dp-aggregation.ts';
import { ChaChaRandom } from '../../shared/src/privacy/chacha-random.ts';
import {
  adaptiveClipUpdateNoiseMultiplier,
  addGaussianNoise,
  clipUpdate,
  dpSumNoiseStd,
  initialAdaptiveClip,
  l2Norm,
  noisyFractionBelow,
  updateAdaptiveClip,
} from '../../shared/src/privacy/dp-fedavg.ts';
import type { WeightArrays } from '../../shared/src/weights.ts';

/**
 * Exact values of DP-FedAvg (shared/src/privacy/dp-fedavg.ts, coordinator/src/engine/dp-aggregation.ts): the clip
 * factor and its edge, the noise std z·C on the sum (z·C/m on the mean) drawn from a seeded stream and replayed
 * here normal for normal, the fixed denominator, and adaptive clipping's count query and budget split.
 */

const key = (k: number) => new ChaChaRandom(new Uint8Array(32).fill(k));
/** The first `count` standard normals of key k: what the code under test draws from the same key. */
const normalsOf = (k: number, count: number) => {
  const r = key(k);
  return Array.from({ length: count }, () => r.normal());
};
const f32 = Math.fround;

describe('clipping (exact)', () => {
  it('scales by C/‖Δ‖ over all tensors; at ‖Δ‖ = C exactly the update is within and unchanged', () => {
    const delta = [Float32Array.of(2, 0, -1), Float32Array.of(2)]; // ‖Δ‖ = 3
    const r = clipUpdate(delta, 1.5);
    expect(r).toMatchObject({ norm: 3, scale: 0.5, withinClip: false });
    expect(r.update.map((a) => Array.from(a))).toEqual([[1, 0, -0.5], [1]]);
    const at = clipUpdate(delta, 3);
    expect(at).toMatchObject({ norm: 3, scale: 1, withinClip: true });
    expect(at.update.map((a) => Array.from(a))).toEqual([[2, 0, -1], [2]]);
    expect(at.update[0]).not.toBe(delta[0]);
    expect(clipUpdate(delta, 3 + 2 ** -51)).toMatchObject({ scale: 1, withinClip: true });
    const above = clipUpdate(delta, 3 - 2 ** -51);
    expect(above.withinClip).toBe(false);
    expect(above.scale).toBe((3 - 2 ** -51) / 3);
    expect(Array.from(above.update[1]!)).toEqual([f32(2 * ((3 - 2 ** -51) / 3))]);
    // A zero update is within any clip.
    expect(clipUpdate([new Float32Array(2)], 1)).toMatchObject({ norm: 0, scale: 1, withinClip: true });
  });

  it('the norm is accumulated in float64 over every tensor', () => {
    expect(l2Norm([Float32Array.of(1, 2), Float32Array.of(2), new Float32Array(0), Float32Array.of(4)])).toBe(5);
    expect(l2Norm([Float32Array.of(3e20, 4e20)])).toBe(f32(3e20) === 3e20 ? 5e20 : Math.hypot(f32(3e20), f32(4e20)));
  });

  it('refuses an infinite or negative clip and an infinite update', () => {
    expect(() => clipUpdate([Float32Array.of(1)], Infinity)).toThrow(/clip norm must be a finite number > 0, got Infinity/);
    expect(() => clipUpdate([Float32Array.of(1)], -1)).toThrow(/got -1/);
    expect(() => clipUpdate([Float32Array.of(Infinity)], 1)).toThrow(expect.objectContaining({ code: 'non_finite' }));
  });

  it('clipDelta clips w − global, not w + global', () => {
    const global = [Float32Array.of(1, 2), Float32Array.of(-3)];
    const r = clipDelta(global, [Float32Array.of(4, 6), Float32Array.of(9)], 100); // Δ = (3, 4, 12): norm 13
    expect(r.withinClip).toBe(true);
    expect(r.update.map((a) => Array.from(a))).toEqual([[3, 4], [12]]);
    const c = clipDelta(global, [Float32Array.of(4, 6), Float32Array.of(9)], 6.5);
    expect(c.withinClip).toBe(false);
    expect(c.update.map((a) => Array.from(a))).toEqual([[1.5, 2], [6]]);
  });
});

describe('the Gaussian noise (exact, replayed from the seed)', () => {
  it('addGaussianNoise adds std·N(0, 1) per coordinate in order, across tensors', () => {
    const n = normalsOf(3, 3);
    const out = addGaussianNoise([Float32Array.of(1, -2), Float32Array.of(0.5)], 0.75, key(3));
    expect(out.map((a) => Array.from(a))).toEqual([[f32(1 + 0.75 * n[0]!), f32(-2 + 0.75 * n[1]!)], [f32(0.5 + 0.75 * n[2]!)]]);
  });

  it('refuses an infinite or negative std', () => {
    expect(() => addGaussianNoise([Float32Array.of(0)], Infinity, key(1))).toThrow(/noise std must be a finite number ≥ 0, got Infinity/);
    expect(() => addGaussianNoise([Float32Array.of(0)], -0.5, key(1))).toThrow(/got -0.5/);
  });

  it('dpSumNoiseStd is z·C', () => {
    expect(dpSumNoiseStd(1.5, 4)).toBe(6);
  });

  it('aggregateDp: global + (Σ clip(Δ) + N(0, (z·C)²))/m with m = max(selected, reported)', () => {
    const global: WeightArrays = [Float32Array.of(1, 2), Float32Array.of(-1)];
    const updates: WeightArrays[] = [
      [Float32Array.of(4, 6), Float32Array.of(11)], // Δ = (3, 4, 12): norm 13, clipped to 2: × 2/13
      [Float32Array.of(1.5, 2), Float32Array.of(-1)], // Δ = (0.5, 0, 0): within
    ];
    const dp = DpConfig.parse({ noiseMultiplier: 0.8, clip: 2 });
    const r = aggregateDp(global, updates, 4, 2, dp, key(9));
    const n = normalsOf(9, 3);
    const sum = [f32(f32(3 * (2 / 13)) + 0.5), f32(4 * (2 / 13)), f32(12 * (2 / 13))];
    const noisy = sum.map((s, i) => f32(s + 0.8 * 2 * n[i]!));
    expect(r.weights.map((a) => Array.from(a))).toEqual([[f32(1 + noisy[0]! / 4), f32(2 + noisy[1]! / 4)], [f32(-1 + noisy[2]! / 4)]]);
    expect(r).toMatchObject({ clip: 2, nextClip: 2, clippedShare: 0.5 });
    // Fewer selected than reported: the denominator is the number reported.
    const three = aggregateDp(global, [...updates, updates[1]!], 1, 2, { ...dp, noiseMultiplier: 0 }, key(9));
    const sum3 = [f32(f32(f32(3 * (2 / 13)) + 0.5) + 0.5), f32(4 * (2 / 13)), f32(12 * (2 / 13))];
    expect(three.weights.map((a) => Array.from(a))).toEqual([[f32(1 + sum3[0]! / 3), f32(2 + sum3[1]! / 3)], [f32(-1 + sum3[2]! / 3)]]);
    expect(three.clippedShare).toBe(1 - 2 / 3);
  });

  it('aggregateClippedDp refuses zero updates; all within the clip is a clipped share of 0', () => {
    const dp = DpConfig.parse({ noiseMultiplier: 0, clip: 1 });
    expect(() => aggregateClippedDp([Float32Array.of(0)], [], 1, 1, dp, key(1))).toThrow(expect.objectContaining({ code: 'no_updates' }));
    const r = aggregateClippedDp([Float32Array.of(0)], [{ update: [Float32Array.of(0.5)], withinClip: true }], 2, 1, dp, key(1));
    expect(r.clippedShare).toBe(0);
    expect(Array.from(r.weights[0]!)).toEqual([0.25]);
  });

  it('aggregateDpSecureSum: global + weightedSum + N(0, (z·C/m)²); z = 0 adds nothing', () => {
    const global: WeightArrays = [Float32Array.of(1, -1)];
    const weightedSum: WeightArrays = [Float32Array.of(0.25, 0.5)];
    const dp = DpConfig.parse({ noiseMultiplier: 1.2, clip: 0.5 });
    const r = aggregateDpSecureSum(global, weightedSum, 3, 0.5, dp, key(4));
    const n = normalsOf(4, 2);
    const std = (1.2 * 0.5) / 3;
    expect(Array.from(r.weights[0]!)).toEqual([f32(1 + f32(0.25 + std * n[0]!)), f32(-1 + f32(0.5 + std * n[1]!))]);
    expect(r).toMatchObject({ clip: 0.5, nextClip: 0.5, clippedShare: null });
    const plain = aggregateDpSecureSum(global, weightedSum, 1, 0.5, { ...dp, noiseMultiplier: 0 }, key(4));
    expect(Array.from(plain.weights[0]!)).toEqual([1.25, -0.5]);
    expect(() => aggregateDpSecureSum(global, weightedSum, 0, 0.5, dp, key(4))).toThrow(expect.objectContaining({ code: 'no_updates' }));
    expect(() => aggregateDpSecureSum(global, weightedSum, 0.5, 0.5, dp, key(4))).toThrow(/zero selected sites/);
    expect(() => aggregateDpSecureSum(global, weightedSum, 1, 0.5, { ...dp, adaptive: { targetQuantile: 0.5, learningRate: 0.2 } }, key(4))).toThrow(/adaptive clipping is not supported/);
  });
});

describe('adaptive clipping (exact)', () => {
  it('C·exp(−η(b̄ − γ)) and the round count, from any state', () => {
    const next = updateAdaptiveClip({ clip: 2, rounds: 4 }, 0.9, { targetQuantile: 0.6, learningRate: 0.3 });
    expect(next).toEqual({ clip: 2 * Math.exp(-0.3 * (0.9 - 0.6)), rounds: 5 });
    expect(initialAdaptiveClip(0.25)).toEqual({ clip: 0.25, rounds: 0 });
  });

  it('refuses a quantile outside [0, 1], a learning rate ≤ 0 or infinite, a non-finite fraction, a clip ≤ 0 or infinite', () => {
    const s = initialAdaptiveClip(1);
    expect(updateAdaptiveClip(s, 0, { targetQuantile: 0, learningRate: 1 }).clip).toBe(1);
    expect(updateAdaptiveClip(s, 1, { targetQuantile: 1, learningRate: 1 }).clip).toBe(1);
    expect(() => updateAdaptiveClip(s, 0.5, { targetQuantile: -0.01, learningRate: 1 })).toThrow(/target quantile must be in \[0, 1\], got -0.01/);
    expect(() => updateAdaptiveClip(s, 0.5, { targetQuantile: 1.01, learningRate: 1 })).toThrow(/got 1.01/);
    expect(() => updateAdaptiveClip(s, 0.5, { targetQuantile: 0.5, learningRate: 0 })).toThrow(/clip learning rate must be > 0, got 0/);
    expect(() => updateAdaptiveClip(s, 0.5, { targetQuantile: 0.5, learningRate: Infinity })).toThrow(/got Infinity/);
    expect(() => updateAdaptiveClip(s, Number.NaN, { targetQuantile: 0.5, learningRate: 1 })).toThrow(expect.objectContaining({ code: 'non_finite' }));
    expect(() => updateAdaptiveClip(s, Infinity, { targetQuantile: 0.5, learningRate: 1 })).toThrow(/fraction below the clip is not finite/);
    expect(() => initialAdaptiveClip(0)).toThrow(/initial clip must be > 0, got 0/);
    expect(() => initialAdaptiveClip(Infinity)).toThrow(/got Infinity/);
  });

  it('the noisy fraction (Σ(b_i − ½) + σ_b·N(0, 1))/m + ½', () => {
    const n = normalsOf(6, 1)[0]!;
    expect(noisyFractionBelow(3, 5, 8, 0.4, key(6))).toBe((3 - 5 / 2 + 0.4 * n) / 8 + 0.5);
    expect(noisyFractionBelow(2, 4, 0.5, 0, key(6))).toBe(0.5);
    expect(() => noisyFractionBelow(1, 1, 0, 1, key(6))).toThrow(/expected sites must be > 0, got 0/);
    expect(() => noisyFractionBelow(1, 1, 1, -0.1, key(6))).toThrow(/count noise std must be ≥ 0, got -0.1/);
  });

  it('the update noise (z⁻² − (2σ_b)⁻²)^(−½), refused unless z > 0 and 2σ_b > z', () => {
    expect(adaptiveClipUpdateNoiseMultiplier(1, 5)).toBe(0.99 ** -0.5);
    expect(adaptiveClipUpdateNoiseMultiplier(0.5, 2)).toBe((4 - 1 / 16) ** -0.5);
    expect(() => adaptiveClipUpdateNoiseMultiplier(1, 0.5)).toThrow(/2·σ_b > z \(σ_b = 0.5, z = 1\)/);
    expect(() => adaptiveClipUpdateNoiseMultiplier(0, 5)).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => adaptiveClipUpdateNoiseMultiplier(-1, 5)).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('aggregateDp with adaptive clipping: σ_b = max(m/20, z), the count noise first, then the sum with z_Δ·C', () => {
    const global: WeightArrays = [Float32Array.of(0, 0)];
    const updates: WeightArrays[] = [[Float32Array.of(0.3, 0.4)], [Float32Array.of(3, 4)], [Float32Array.of(0, 0.1)]]; // norms 0.5, 5, 0.1
    const adaptive = { targetQuantile: 0.5, learningRate: 0.2 };
    // m = 40: σ_b = 40/20 = 2 > z = 1.
    const dp = DpConfig.parse({ noiseMultiplier: 1, clip: 1, adaptive });
    const r = aggregateDp(global, updates, 40, 1, dp, key(7));
    const n = normalsOf(7, 3);
    const fraction = (2 - 3 / 2 + 2 * n[0]!) / 40 + 0.5;
    expect(r.nextClip).toBe(1 * Math.exp(-0.2 * (fraction - 0.5)));
    const zDelta = (1 - 1 / 16) ** -0.5;
    const sum = [f32(f32(f32(0.3) + f32(3 * 0.2)) + 0), f32(f32(f32(0.4) + f32(4 * 0.2)) + f32(0.1))];
    expect(Array.from(r.weights[0]!)).toEqual([f32(f32(sum[0]! + zDelta * n[1]!) / 40), f32(f32(sum[1]! + zDelta * n[2]!) / 40)]);
    expect(r.clippedShare).toBe(1 - 2 / 3);
    // m = 3: m/20 = 0.15 < z = 1.5, so σ_b = z = 1.5 (and 2σ_b > z).
    const small = aggregateDp(global, updates, 3, 1, { ...dp, noiseMultiplier: 1.5 }, key(7));
    const fractionSmall = (2 - 3 / 2 + 1.5 * n[0]!) / 3 + 0.5;
    expect(small.nextClip).toBe(Math.exp(-0.2 * (fractionSmall - 0.5)));
    const zSmall = (1.5 ** -2 - 3 ** -2) ** -0.5;
    expect(Array.from(small.weights[0]!)).toEqual([f32(f32(sum[0]! + zSmall * n[1]!) / 3), f32(f32(sum[1]! + zSmall * n[2]!) / 3)]);
    // z = 0: no noise anywhere; the count is exact: 2 of 3 within.
    const exact = aggregateDp(global, updates, 3, 1, { ...dp, noiseMultiplier: 0 }, key(7));
    expect(exact.nextClip).toBe(Math.exp(-0.2 * ((2 - 1.5) / 3 + 0.5 - 0.5)));
    expect(Array.from(exact.weights[0]!)).toEqual([f32(sum[0]! / 3), f32(sum[1]! / 3)]);
  });
});

describe('the run config of DP-FedAvg and its noise source', () => {
  it('DpConfig: the adaptive learning rate defaults to 0.2, δ to the default, the noise to absent', () => {
    const c = DpConfig.parse({ noiseMultiplier: 0, clip: 1, adaptive: { targetQuantile: 0.5 } });
    expect(c.adaptive).toEqual({ targetQuantile: 0.5, learningRate: 0.2 });
    expect(c.noise).toBeUndefined();
    expect(DpConfig.parse({ noiseMultiplier: 1, clip: 1, noise: 'central' }).noise).toBe('central');
    expect(DpConfig.parse({ noiseMultiplier: 1, clip: 1, noise: 'distributed' }).noise).toBe('distributed');
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 1, noise: '' })).toThrow();
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 1, adaptive: {} })).toThrow();
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 1, adaptive: { targetQuantile: 1.5 } })).toThrow();
    expect(() => DpConfig.parse({ noiseMultiplier: -1, clip: 1 })).toThrow();
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 0 })).toThrow();
    expect(() => DpConfig.parse({ noiseMultiplier: 1, clip: 1, delta: 1 })).toThrow();
  });

  it('a seeded round draws from ChaCha20 keyed by sha-256("fedtune/dp-noise/<seed>/<round>")', () => {
    const keyOf = createHash('sha256').update('fedtune/dp-noise/5/3').digest();
    expect(Array.from(dpNoiseRandom({ noiseSeed: 5 }, 3).bytes(40))).toEqual(Array.from(new ChaChaRandom(new Uint8Array(keyOf)).bytes(40)));
    // Seed 0 is a seed, not "absent".
    expect(Array.from(dpNoiseRandom({ noiseSeed: 0 }, 1).bytes(8))).toEqual(Array.from(dpNoiseRandom({ noiseSeed: 0 }, 1).bytes(8)));
  });
});

describe('refusals name their code and what was wrong', () => {
  const refused = (f: () => unknown, code: string, message: string) => {
    expect(f).toThrow(expect.objectContaining({ code, message }));
  };
  it('clipping, noise and adaptive clipping', () => {
    refused(() => clipUpdate([Float32Array.of(Number.NaN)], 1), 'non_finite', 'the update has a non-finite value');
    refused(() => addGaussianNoise([Float32Array.of(0)], -1, key(1)), 'config', 'noise std must be a finite number ≥ 0, got -1');
    refused(() => initialAdaptiveClip(-2), 'config', 'initial clip must be > 0, got -2');
    refused(() => updateAdaptiveClip(initialAdaptiveClip(1), 0.5, { targetQuantile: 2, learningRate: 1 }), 'config', 'target quantile must be in [0, 1], got 2');
    refused(() => updateAdaptiveClip(initialAdaptiveClip(1), 0.5, { targetQuantile: 0.5, learningRate: -1 }), 'config', 'clip learning rate must be > 0, got -1');
    refused(() => noisyFractionBelow(1, 1, -1, 1, key(1)), 'config', 'expected sites must be > 0, got -1');
    refused(() => noisyFractionBelow(1, 1, 1, -1, key(1)), 'config', 'count noise std must be ≥ 0, got -1');
  });
  it('the coordinator\'s DP aggregation', () => {
    const dp = DpConfig.parse({ noiseMultiplier: 1, clip: 1 });
    refused(() => aggregateDp([Float32Array.of(0)], [], 1, 1, dp, key(1)), 'no_updates', 'cannot aggregate zero updates');
    refused(() => aggregateDpSecureSum([Float32Array.of(0)], [Float32Array.of(0)], 1, 1, { ...dp, adaptive: { targetQuantile: 0.5, learningRate: 0.2 } }, key(1)), 'config', 'adaptive clipping is not supported with secure aggregation: use a fixed dp.clip');
    refused(() => aggregateDpSecureSum([Float32Array.of(0)], [Float32Array.of(0)], 0, 1, dp, key(1)), 'no_updates', 'cannot aggregate a secure sum of zero selected sites');
  });
});
