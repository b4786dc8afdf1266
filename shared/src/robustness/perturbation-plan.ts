import { subset, type Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import { featureStats, inputGeometry, valueRange, type InputGeometry } from './apply-corruption.ts';
import type { Corruption, FeatureStats } from './corruption.ts';
import { gaussianNoise } from './corruptions/gaussian-noise.ts';
import { getCorruption, IMAGE_CORRUPTIONS, TABULAR_CORRUPTIONS } from './corruptions/registry.ts';
import type { RobustnessOptions } from './evaluate-robustness.ts';

/** The Gaussian noise σ list evaluated by default. */
export const DEFAULT_NOISE_SIGMAS = [0.1, 0.2, 0.3, 0.5] as const;
/** The evaluated examples and the seed when not given (ROBUSTNESS_DEFAULTS refers to these). */
export const SAMPLE_DEFAULTS = { examples: 500, seed: 0 } as const;

/** One noisy or corrupted copy of the evaluated sample: what it is, and the key it is held under (perturbed-inputs.ts). */
export interface Perturbation {
  /** 'noise' rows report `sigma`, 'corruption' rows `name` and `severity`. */
  part: 'noise' | 'corruption';
  corruption: Corruption;
  sigma?: number;
  /** Everything the perturbed examples depend on besides the data itself: the sample, seed, geometry, range, corruption. */
  key: string;
}

/**
 * What the robustness evaluation perturbs, decided from the data and the options alone (never the model):
 * the seeded sample of `examples` examples, its geometry, feature statistics and valid range, and the noise
 * and corruption list in report order. evaluateRobustness evaluates it; PerturbedInputs.prepare makes its
 * copies ahead of time. A corruption for the other input kind is a 'config' error.
 */
export interface PerturbationPlan {
  seed: number;
  /** The evaluated sample (the data itself when it is all of it, in order). */
  ds: Dataset;
  geometry: InputGeometry;
  stats?: FeatureStats;
  clipMin: number;
  clipMax: number;
  perturbations: Perturbation[];
}

function listOption<T>(value: boolean | readonly T[] | undefined, defaults: readonly T[]): T[] {
  if (value === false) return [];
  if (value === undefined || value === true) return [...defaults];
  return [...value];
}

export function perturbationPlan(data: Dataset, options: RobustnessOptions = {}): PerturbationPlan {
  const seed = options.seed ?? SAMPLE_DEFAULTS.seed;
  const geometry = inputGeometry(data, options.inputKind, options.imageSize);
  // A seeded sample, so a file sorted by class is still evaluated on every class.
  const total = data.y.length;
  const n = Math.min(total, options.examples ?? SAMPLE_DEFAULTS.examples);
  const order = new SeededRandom(deriveSeed(seed, 'sample')).shuffle(Array.from({ length: total }, (_, i) => i)).slice(0, n);
  const ds = n === total && order.every((v, i) => v === i) ? data : subset(data, order);
  const stats = geometry.kind === 'tabular' ? featureStats(ds) : undefined;
  const [clipMin, clipMax] = options.inputRange ?? (geometry.kind === 'image' ? [0, 1] : valueRange(ds.x));
  const base = `${n}/${seed}/${geometry.kind}/${geometry.width}x${geometry.height}/${clipMin}/${clipMax}`;
  const perturbations: Perturbation[] = listOption(options.noise, DEFAULT_NOISE_SIGMAS).map((sigma) => ({
    part: 'noise',
    sigma,
    corruption: gaussianNoise(sigma, clipMin, clipMax),
    key: `${base}/noise/${sigma}`,
  }));
  const defaults = (geometry.kind === 'image' ? IMAGE_CORRUPTIONS : TABULAR_CORRUPTIONS).map((c) => c.name);
  for (const name of listOption(options.corruptions, defaults)) {
    const corruption = getCorruption(name);
    if (corruption.kind !== geometry.kind) throw new FedtuneError('config', `corruption "${name}" is for ${corruption.kind} inputs, the data is ${geometry.kind}`);
    perturbations.push({ part: 'corruption', corruption, key: `${base}/corruption/${name}` });
  }
  return { seed, ds, geometry, ...(stats ? { stats } : {}), clipMin, clipMax, perturbations };
}
