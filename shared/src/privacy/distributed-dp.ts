/**
 * Distributed DP under secure aggregation (docs/privacy.md, "Distributed DP under secure aggregation"): each
 * site adds discrete Gaussian noise N_Z(0, σ_site²) to its quantized input before masking, so the sum the
 * coordinator unmasks already carries the noise. With t the secure-aggregation threshold (the fewest
 * survivors an unmask can have), s the fixed-point scale and w the uniform weight,
 *   σ_site² = (z·C·s·w)² / t,
 * so any n' ≥ t surviving sites carry total variance n'/t·(z·C·s·w)² ≥ (z·C·s·w)² — at least the configured
 * noise. These are the pure rules both sides apply: the coordinator to build the instruction, the site to
 * check it (it adds noise only of a variance it recomputes itself from the instruction's other fields).
 */
import { FedtuneError } from '../errors.ts';
import type { FixedPointConfig } from './fixed-point.ts';

/** The noise fits the ring with this many standard deviations of the largest possible sum's noise to spare. */
export const DISTRIBUTED_NOISE_HEADROOM_SIGMAS = 10;
/**
 * Smallest σ_site (in fixed-point units) accepted when z > 0: the sum of discrete Gaussians is then a discrete
 * Gaussian up to a divergence τ ≤ 10·Σ_k exp(−2π²σ²·k/(k+1)) < 1e-60 (Kairouz, Liu, Steinke 2021, Thm. 1).
 */
export const MIN_SITE_NOISE_STD = 4;
/** The rounding slack √d/2 of a site's integer vector must stay within this share of its sensitivity s·w·C. */
export const MAX_ROUNDING_SLACK_SHARE = 0.01;

export interface DistributedNoiseParams {
  /** z of the configured mechanism: the sum of t sites carries std z·C (in the real domain). */
  noiseMultiplier: number;
  /** C: every site's delta is clipped to this L2 norm before quantization. */
  clip: number;
  /** t: the secure-aggregation threshold. */
  threshold: number;
  /** w: every site's (uniform) weight. */
  weight: number;
}

/** σ_site² in fixed-point units: (z·C·s·w)² / t. */
export function siteNoiseVariance(p: DistributedNoiseParams, scale: number): number {
  return (p.noiseMultiplier * p.clip * scale * p.weight) ** 2 / p.threshold;
}

/**
 * The fixed-point configuration of a distributed-DP round of `sites` invited sites: the scale leaves room for
 * the noisy sum, s = (2^31 − 1 − n) / (max(R,1)·W + 10·σ_max), with σ_max = z·C·w·sqrt(n/t) the std of the
 * noise of all n sites (real units), so the sum wraps only beyond 10σ (probability < 2e-23 per coordinate).
 * Refuses (FedtuneError 'config') a round whose noise leaves too little resolution: the rounding slack √d/2
 * above 1% of a site's sensitivity s·w·C, or σ_site below MIN_SITE_NOISE_STD.
 */
export function distributedFixedPoint(o: { range: number; maxTotalWeight: number; sites: number; vectorLength: number } & DistributedNoiseParams): FixedPointConfig {
  const { range, maxTotalWeight, sites } = o;
  const noiseStdMax = o.noiseMultiplier * o.clip * o.weight * Math.sqrt(sites / o.threshold);
  const scale = (2 ** 31 - 1 - sites) / (Math.max(range, 1) * maxTotalWeight + DISTRIBUTED_NOISE_HEADROOM_SIGMAS * noiseStdMax);
  const sensitivity = scale * o.weight * o.clip;
  const slack = Math.sqrt(o.vectorLength) / 2;
  if (!(slack <= MAX_ROUNDING_SLACK_SHARE * sensitivity)) {
    throw new FedtuneError('config', `distributed DP: noise multiplier ${o.noiseMultiplier} with ${sites} sites leaves a fixed-point resolution of ${sensitivity.toPrecision(3)} units per clipped update, too coarse for ${o.vectorLength} coordinates (needs ≥ ${(slack / MAX_ROUNDING_SLACK_SHARE).toPrecision(3)}): lower the noise multiplier or the number of sites per round, or use dp.noise central`);
  }
  const sd = Math.sqrt(siteNoiseVariance(o, scale));
  if (o.noiseMultiplier > 0 && !(sd >= MIN_SITE_NOISE_STD)) {
    throw new FedtuneError('config', `distributed DP: each site's noise would have std ${sd.toPrecision(3)} fixed-point units, below ${MIN_SITE_NOISE_STD}: raise the noise multiplier (${o.noiseMultiplier}) or use dp.noise central`);
  }
  return { range, maxTotalWeight, scale };
}

/**
 * The noise multiplier the accountant is stepped with after `survivors` sites' noisy inputs were summed:
 * total integer std sqrt(n'/t)·z·C·s·w over the integer sensitivity s·w·C + √d/2 (a site's clipped delta
 * after rounding: each coordinate moves by ≤ 1/2; clamping to the range only shrinks it). ≥ z·(1 − 1%) when
 * n' ≥ t; exactly z·sqrt(n'/t) up to the rounding slack.
 */
export function survivorsNoiseMultiplier(p: DistributedNoiseParams, o: { survivors: number; scale: number; vectorLength: number }): number {
  if (!(Number.isInteger(o.survivors) && o.survivors >= 0)) throw new FedtuneError('config', `survivors must be an integer ≥ 0, got ${o.survivors}`);
  const sensitivity = o.scale * p.weight * p.clip;
  const totalStd = Math.sqrt((o.survivors / p.threshold) * (p.noiseMultiplier * p.clip * o.scale * p.weight) ** 2);
  return totalStd / (sensitivity + Math.sqrt(o.vectorLength) / 2);
}
