import { createHash } from 'node:crypto';
import { ChaChaRandom } from '@fedtune/shared';
import {
  DEFAULT_DP_DELTA,
  adaptiveClipUpdateNoiseMultiplier,
  addGaussianNoise,
  clipUpdate,
  dpSumNoiseStd,
  FedtuneError,
  noisyFractionBelow,
  updateAdaptiveClip,
  type NormalSource,
  type WeightArrays,
} from '@fedtune/shared';
import { z } from 'zod';

/** Client-level differential privacy for the aggregate (DP-FedAvg, McMahan et al. 2018). */
export const DpConfig = z.object({
  /** z: the Gaussian noise on the sum has standard deviation z·C. */
  noiseMultiplier: z.number().min(0),
  /** C: every update's delta is clipped to this L2 norm; with `adaptive`, the starting value. */
  clip: z.number().positive(),
  /** Adaptive clipping to a target quantile of the update norms (Andrew et al. 2021). */
  adaptive: z.object({ targetQuantile: z.number().min(0).max(1), learningRate: z.number().positive().default(0.2) }).optional(),
  /** δ of the (ε, δ) guarantee reported after every round. */
  delta: z.number().gt(0).lt(1).default(DEFAULT_DP_DELTA),
  /**
   * Who adds the Gaussian noise: 'central' (the coordinator, on the sum) or 'distributed' (under secure
   * aggregation each site adds its share on the fixed-point ring, so the coordinator never holds a noise-free
   * sum; docs/privacy.md). Absent: 'distributed' under secure aggregation, else 'central'.
   */
  noise: z.enum(['central', 'distributed']).optional(),
  /**
   * Simulation only: draw the noise from a ChaCha20 stream seeded with this and the round, so a simulated
   * run is reproducible (and the same over memory and socket.io). Never set it in a deployment: whoever
   * knows the seed can subtract the noise. Absent (the default): the noise comes from the system's CSPRNG.
   */
  noiseSeed: z.number().int().min(0).optional(),
});
export type DpConfig = z.output<typeof DpConfig>;

export interface DpRoundResult {
  weights: WeightArrays;
  /** The clip used this round and the one for the next round. */
  clip: number;
  nextClip: number;
  /** Share of updates that were clipped; null when unknown (under secure aggregation). */
  clippedShare: number | null;
}

/**
 * One DP-FedAvg aggregation: deltas Δ_k = w_k − global are clipped to C, summed, the sum gets N(0, (z·C)²)
 * noise per coordinate, and is divided by the number of selected sites (a fixed denominator, so one site's
 * influence is bounded by C whatever the others send). Sites count equally: example counts are not used,
 * as they would leak and unbound the sensitivity. With adaptive clipping the clipped-count query takes
 * its share of the privacy budget (σ_b = max(m/20, z)) and the update noise is raised accordingly.
 */
export function aggregateDp(global: WeightArrays, updates: WeightArrays[], selected: number, clip: number, config: DpConfig, rng: NormalSource): DpRoundResult {
  return aggregateClippedDp(global, updates.map((w) => clipDelta(global, w, clip)), selected, clip, config, rng);
}

/** One site's delta Δ = w − global (float32), clipped to C; `withinClip` when it needed no clipping. */
export function clipDelta(global: WeightArrays, weights: WeightArrays, clip: number): { update: WeightArrays; withinClip: boolean } {
  const delta = weights.map((t, i) => {
    const g = global[i];
    // A loop, not map(): a typed array's map calls its callback per element, ~2× to 30× the time of the loop here.
    const d = new Float32Array(t.length);
    // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
    for (let j = 0; j < t.length; j++) d[j] = t[j] - g[j];
    return d;
  });
  const clipped = clipUpdate(delta, clip);
  return { update: clipped.update, withinClip: clipped.withinClip };
}

/**
 * `aggregateDp` from the sites' clipped deltas (`clipDelta`), summed in the order given (float32: the
 * caller gives canonical site-id order, so the sum is the same whoever clipped them).
 */
export function aggregateClippedDp(global: WeightArrays, clipped: ReadonlyArray<{ update: WeightArrays; withinClip: boolean }>, selected: number, clip: number, config: DpConfig, rng: NormalSource): DpRoundResult {
  if (clipped.length === 0) throw new FedtuneError('no_updates', 'cannot aggregate zero updates');
  const sum = global.map((g) => new Float32Array(g.length));
  let within = 0;
  for (const c of clipped) {
    if (c.withinClip) within++;
    c.update.forEach((t, i) => {
      const s = sum[i];
      // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored (NaN + … stays out of the array).
      for (let j = 0; j < t.length; j++) s[j] += t[j];
    });
  }
  const m = Math.max(selected, clipped.length);
  let z = config.noiseMultiplier;
  let nextClip = clip;
  if (config.adaptive) {
    // σ_b = m/20 as in the paper, but at least z so that 2σ_b > z holds for small federations too.
    const countNoiseStd = Math.max(m / 20, config.noiseMultiplier);
    if (z > 0) z = adaptiveClipUpdateNoiseMultiplier(z, countNoiseStd);
    const fraction = noisyFractionBelow(within, clipped.length, m, config.noiseMultiplier > 0 ? countNoiseStd : 0, rng);
    nextClip = updateAdaptiveClip({ clip, rounds: 0 }, fraction, config.adaptive).clip;
  }
  // Stryker disable next-line ConditionalExpression: equivalent: z = 0 adds 0·N(0, 1) = 0 per coordinate; the branch only skips drawing it.
  const noisy = z === 0 ? sum : addGaussianNoise(sum, dpSumNoiseStd(z, clip), rng);
  const weights = global.map((g, i) => {
    const s = noisy[i];
    const out = new Float32Array(g.length);
    // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
    for (let j = 0; j < g.length; j++) out[j] = g[j] + s[j] / m;
    return out;
  });
  return { weights, clip, nextClip, clippedShare: 1 - within / clipped.length };
}

/**
 * DP-FedAvg on a secure-aggregation sum: the sites clipped their deltas to C before masking and weighted
 * them uniformly (w = 1/m for the m selected sites), so `weightedSum` = Σ_survivors clip(Δ_k)/m. Adds
 * N(0, (z·C)²) to Σ clip(Δ_k) — that is N(0, (z·C/m)²) to `weightedSum` — and returns global + the result:
 * the same mechanism as `aggregateDp` with its fixed denominator m, without ever seeing a site's delta.
 * The noise is added here, centrally: the coordinator is trusted to add it. Adaptive clipping is refused
 * (it needs each site's clipped bit, which the secure sum hides); `clippedShare` is unknown (null).
 */
export function aggregateDpSecureSum(global: WeightArrays, weightedSum: WeightArrays, selected: number, clip: number, config: DpConfig, rng: NormalSource): DpRoundResult {
  if (config.adaptive) throw new FedtuneError('config', 'adaptive clipping is not supported with secure aggregation: use a fixed dp.clip');
  if (!(selected >= 1)) throw new FedtuneError('no_updates', 'cannot aggregate a secure sum of zero selected sites');
  const z = config.noiseMultiplier;
  // Stryker disable next-line ConditionalExpression: equivalent: z = 0 adds 0·N(0, 1) = 0 per coordinate; the branch only skips drawing it.
  const noisy = z === 0 ? weightedSum : addGaussianNoise(weightedSum, dpSumNoiseStd(z, clip) / selected, rng);
  const weights = global.map((g, i) => {
    const s = noisy[i];
    const out = new Float32Array(g.length);
    // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
    for (let j = 0; j < g.length; j++) out[j] = g[j] + s[j];
    return out;
  });
  return { weights, clip, nextClip: clip, clippedShare: null };
}

/** The noise source of one round: the system CSPRNG, or (simulation) a stream seeded by `noiseSeed` and the round. */
export function dpNoiseRandom(dp: Pick<DpConfig, 'noiseSeed'>, round: number): ChaChaRandom {
  if (dp.noiseSeed === undefined) return new ChaChaRandom();
  return new ChaChaRandom(new Uint8Array(createHash('sha256').update(`fedtune/dp-noise/${dp.noiseSeed}/${round}`).digest()));
}
