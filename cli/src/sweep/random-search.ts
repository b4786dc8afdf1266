import { deriveSeed, SeededRandom } from '@fedtune/shared';
import type { TrialParams } from './grid-search.ts';
import { isRange, type ParamRange, type SearchSpace } from './search-space.ts';

function sampleRange(range: ParamRange, rng: SeededRandom): number {
  const u = rng.next();
  if (range.int) {
    const lo = Math.ceil(range.min);
    const hi = Math.floor(range.max);
    if (!range.log) return lo + Math.floor(u * (hi - lo + 1));
    // Log-uniform over [lo, hi + 1), floored: each integer weighted by its share of the log scale.
    return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + u * (Math.log(hi + 1) - Math.log(lo)))));
  }
  return range.log ? Math.exp(Math.log(range.min) + u * (Math.log(range.max) - Math.log(range.min))) : range.min + u * (range.max - range.min);
}

/**
 * `count` trials drawn independently from the space with a generator seeded by `seed` (the same seed, space
 * and count give the same trials): a list → one of its values uniformly; a range → uniform, or
 * log-uniform with `log`, rounded into the integers with `int`.
 */
export function randomTrials(space: SearchSpace, count: number, seed: number): TrialParams[] {
  const rng = new SeededRandom(deriveSeed(seed, 'sweep-random'));
  return Array.from({ length: count }, () => {
    const trial: TrialParams = {};
    for (const [key, spec] of Object.entries(space)) trial[key] = isRange(spec) ? sampleRange(spec, rng) : spec[rng.int(spec.length)];
    return trial;
  });
}
