/**
 * The site's side of distributed DP under secure aggregation (shared/src/privacy/distributed-dp.ts): checks
 * a coordinator's noise parameters against what the site recomputes from the rest of the instruction, and
 * builds the noise the site adds to its quantized input before masking, from the OS CSPRNG (or, in a
 * simulation only, a ChaCha20 stream seeded per site, round and attempt).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { FedtuneError } from '../errors.ts';
import type { SecureAggInstruction } from '../messages/schemas.ts';
import { ChaChaRandom } from '../privacy/chacha-random.ts';
import { DISTRIBUTED_NOISE_HEADROOM_SIGMAS, siteNoiseVariance } from '../privacy/distributed-dp.ts';
import type { SecAggSiteNoise } from '../privacy/secagg-site.ts';

const RELATIVE_TOLERANCE = 1e-9;

/**
 * Refuses (FedtuneError 'malformed_payload') distributed-noise parameters that do not follow from the
 * instruction: non-uniform weights, a variance other than (z·C·s·w)²/t, or a scale whose noisy sum of all
 * invited sites could wrap within 10σ.
 */
export function checkDistributedNoise(instruction: SecureAggInstruction): void {
  const noise = instruction.distributedNoise;
  if (!noise) return;
  if (instruction.weighting !== 'uniform') throw new FedtuneError('malformed_payload', 'distributed DP: the instruction must weight sites uniformly');
  const params = { noiseMultiplier: noise.noiseMultiplier, clip: instruction.clip, threshold: instruction.threshold, weight: 1 / instruction.weightDenominator };
  const { range, maxTotalWeight, scale } = instruction.fixedPoint;
  const expected = siteNoiseVariance(params, scale);
  if (!(Math.abs(noise.variance - expected) <= RELATIVE_TOLERANCE * expected)) {
    throw new FedtuneError('malformed_payload', `distributed DP: noise variance ${noise.variance} does not match (z·C·s·w)²/t = ${expected} for z = ${noise.noiseMultiplier}`);
  }
  const n = instruction.sites.length;
  const noiseStdMax = params.noiseMultiplier * params.clip * params.weight * Math.sqrt(n / params.threshold);
  const bound = scale * (Math.max(range, 1) * maxTotalWeight + DISTRIBUTED_NOISE_HEADROOM_SIGMAS * noiseStdMax);
  if (!(bound <= (2 ** 31 - 1 - n) * (1 + 1e-12))) {
    throw new FedtuneError('malformed_payload', `distributed DP: fixed-point scale ${scale} leaves no room for the noise of ${n} sites (the noisy sum could wrap)`);
  }
}

/**
 * The noise this site adds for an instruction, or undefined without distributed DP. `simulationSeed`
 * (SiteClientOptions.distributedNoiseSeed) is for simulations only: whoever knows it can remove the noise.
 */
export function distributedNoiseOf(instruction: SecureAggInstruction, site: { siteId: string; round: number; simulationSeed?: number }): SecAggSiteNoise | undefined {
  const noise = instruction.distributedNoise;
  if (!noise || noise.variance === 0) return undefined;
  const random = site.simulationSeed === undefined
    ? new ChaChaRandom()
    : new ChaChaRandom(sha256(new TextEncoder().encode(`fedtune/distributed-noise/${site.simulationSeed}/${site.siteId}/${site.round}/${instruction.attempt}`)));
  return { variance: noise.variance, randomBytes: random.randomBytes };
}
