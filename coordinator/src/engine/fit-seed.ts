import { deriveSeed } from '@fedtune/shared';

/**
 * The training seed a site is given for one attempt of a round. The first attempt's depends on the run's seed,
 * the round and the site only (as before attempts had seeds); a retry's (attempt ≥ 2: a quorum not met, or an
 * aggregate the adoption guard refused) also on the attempt, so the sites shuffle, drop out and sample
 * differently — with the same sites and the same seeds a retry rebuilt the refused aggregate bit for bit.
 */
export function fitSeed(runSeed: number, round: number, attempt: number, siteId: string): number {
  return attempt === 1 ? deriveSeed(runSeed, 'fit', round, siteId) : deriveSeed(runSeed, 'fit', round, siteId, attempt);
}
