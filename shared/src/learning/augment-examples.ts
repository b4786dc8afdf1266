import { featureSize, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import { featureStats, inputGeometry, valueRange, type InputGeometry } from '../robustness/apply-corruption.ts';
import type { Corruption, FeatureStats } from '../robustness/corruption.ts';
import { gaussianNoise } from '../robustness/corruptions/gaussian-noise.ts';
import { getCorruption, IMAGE_CORRUPTIONS, TABULAR_CORRUPTIONS } from '../robustness/corruptions/registry.ts';

export const DEFAULT_AUGMENTATION_SIGMAS = [0.1, 0.2, 0.3] as const;

/** The corruption pool of an augmentation config, resolved for the data's input kind. */
export interface Augmenter {
  share: number;
  pool: Corruption[];
  geometry: InputGeometry;
  stats?: FeatureStats;
}

export function makeAugmenter(config: NonNullable<TrainConfig['augmentation']>, data: Dataset): Augmenter {
  const geometry = inputGeometry(data);
  const defaults = geometry.kind === 'image' ? IMAGE_CORRUPTIONS : TABULAR_CORRUPTIONS;
  const corruptions = config.corruptions ? config.corruptions.map(getCorruption) : [...defaults];
  for (const c of corruptions) {
    if (c.kind !== geometry.kind) throw new FedtuneError('config', `augmentation corruption "${c.name}" is for ${c.kind} inputs, the site's data is ${geometry.kind}`);
  }
  const stats = featureStats(data);
  const [lo, hi] = geometry.kind === 'image' ? [0, 1] : valueRange(data.x);
  const noise = (config.noiseSigmas ?? DEFAULT_AUGMENTATION_SIGMAS).map((s) => gaussianNoise(s, lo, hi));
  const pool = [...corruptions, ...noise];
  if (pool.length === 0 && config.share > 0) throw new FedtuneError('config', 'augmentation has neither corruptions nor noise');
  return { share: config.share, pool, geometry, stats: geometry.kind === 'tabular' ? stats : undefined };
}

/**
 * Replaces each example of `ds` in place, with probability `share`, by a copy corrupted with a corruption
 * drawn uniformly from the pool. Seeded by (seed, epoch): the same config gives the same augmented data.
 */
export function augmentInPlace(ds: Dataset, augmenter: Augmenter, seed: number, epoch: number): number {
  const f = featureSize(ds);
  const rng = new SeededRandom(deriveSeed(seed, 'augment', epoch));
  const { width, height } = augmenter.geometry;
  let changed = 0;
  for (let i = 0; i < ds.y.length; i++) {
    if (rng.next() >= augmenter.share) continue;
    const c = augmenter.pool[rng.int(augmenter.pool.length)];
    const exampleRng = new SeededRandom(deriveSeed(seed, 'augment', epoch, i));
    ds.x.set(c.apply(ds.x.subarray(i * f, (i + 1) * f), { width, height, rng: exampleRng, stats: augmenter.stats }), i * f);
    changed++;
  }
  return changed;
}
