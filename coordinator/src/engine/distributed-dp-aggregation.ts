/**
 * Distributed DP under secure aggregation, the coordinator's part (docs/privacy.md, "Distributed DP under
 * secure aggregation"): which party adds the noise, the noise parameters of a round's instruction, and the
 * aggregation that adds nothing — the unmasked sum already carries every survivor's discrete Gaussian noise.
 */
import { FedtuneError, survivorsNoiseMultiplier, type DistributedNoiseParams, type WeightArrays } from '@fedtune/shared';
import type { DpConfig, DpRoundResult } from './dp-aggregation.ts';

export type DpNoise = 'central' | 'distributed';

/**
 * Who adds the noise: `dp.noise`, or when absent 'distributed' under secure aggregation and 'central'
 * otherwise. 'distributed' without secure aggregation is a config error (there is no ring to add it on).
 */
export function resolveDpNoise(dp: Pick<DpConfig, 'noise'>, secureAggregation: boolean): DpNoise {
  const noise = dp.noise ?? (secureAggregation ? 'distributed' : 'central');
  if (noise === 'distributed' && !secureAggregation) {
    throw new FedtuneError('config', 'dp.noise "distributed" needs secure aggregation (the sites add their noise to the masked fixed-point sum): turn on secureAggregation (--secure-aggregation) or use dp.noise "central"');
  }
  return noise;
}

/**
 * The round's aggregate: global + Σ_survivors (clip(Δ_k)/m + noise_k/s). The coordinator adds no noise and
 * never held a noise-free sum; `weightedSum` is what secure aggregation unmasked.
 */
export function aggregateDistributedDpSecureSum(global: WeightArrays, weightedSum: WeightArrays, clip: number): DpRoundResult {
  const weights = global.map((g, i) => {
    const out = new Float32Array(g.length);
    const s = weightedSum[i];
    for (let j = 0; j < g.length; j++) out[j] = g[j] + s[j];
    return out;
  });
  return { weights, clip, nextClip: clip, clippedShare: null };
}

/** The accountant's noise multiplier for a round whose sum held `survivors` sites' noise (distributed-dp.ts). */
export function distributedRoundNoiseMultiplier(params: DistributedNoiseParams, round: { survivors: number; scale: number; vectorLength: number }): number {
  return survivorsNoiseMultiplier(params, round);
}
