import type { RunTerms } from '../messages/run-terms.ts';
import type { SecureAggInstruction } from '../messages/schemas.ts';
import { siteNoiseVariance } from '../privacy/distributed-dp.ts';

const RELATIVE_TOLERANCE = 1e-9;

/**
 * A fit's distributed-DP noise against the terms (docs/site-policy.md#every-instruction): under terms with
 * `dp.noise: 'distributed'` the secure-aggregation instruction must carry `distributedNoise` with exactly the
 * terms' noise multiplier z and the variance (z·C·s·w)²/t that follows from the instruction's clip, scale,
 * weight and threshold (secAggInstruction on the coordinator); under central DP or no DP it must carry none.
 * The site's ledger books ε for the terms' z, so it adds exactly that noise, never less (a coordinator could
 * otherwise have the site mask a noiseless update) and never more (the ledger would misstate it). Why not, or undefined.
 */
export function checkDistributedNoiseTerms(secure: SecureAggInstruction, terms: RunTerms): string | undefined {
  const noise = secure.distributedNoise;
  const z = terms.dp?.noise === 'distributed' ? terms.dp.noiseMultiplier : undefined;
  if (z === undefined) {
    if (!noise) return undefined;
    return terms.dp ? 'the terms say central DP noise and the fit asks the site to add distributed noise' : 'the terms say no DP and the fit asks the site to add distributed noise';
  }
  if (!noise) return `the terms say distributed DP noise (z = ${z}) and the fit asks the site to add none`;
  if (noise.noiseMultiplier !== z) return `the fit's distributed noise multiplier ${noise.noiseMultiplier} is not the terms' ${z}`;
  const expected = siteNoiseVariance({ noiseMultiplier: z, clip: secure.clip, threshold: secure.threshold, weight: 1 / secure.weightDenominator }, secure.fixedPoint.scale);
  if (!(Math.abs(noise.variance - expected) <= RELATIVE_TOLERANCE * expected)) {
    return `the fit's distributed noise variance ${noise.variance} is not (z·C·s·w)²/t = ${expected} for the terms' z = ${z}`;
  }
  return undefined;
}
