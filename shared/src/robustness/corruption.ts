import type { SeededRandom } from '../random/seeded-random.ts';

/** Per-feature statistics of the evaluated data, for the tabular corruptions. */
export interface FeatureStats {
  mean: Float32Array;
  std: Float32Array;
  min: Float32Array;
  max: Float32Array;
}

export interface CorruptionContext {
  /** Image width and height (image corruptions); tabular corruptions ignore them. */
  width: number;
  height: number;
  /** Seeded per example: the same seed and example give the same corruption. */
  rng: SeededRandom;
  /** Per-feature statistics (tabular corruptions). */
  stats?: FeatureStats;
}

/**
 * One common corruption, as a plain config object (registered from the list in `corruptions/registry.ts`).
 * `apply` returns a corrupted copy of one example and never modifies its input. Image corruptions take a
 * single-channel image in [0, 1] and return one in [0, 1] of the same size.
 */
export interface Corruption {
  readonly name: string;
  readonly kind: 'image' | 'tabular';
  /** The fixed severity used (MNIST-C's 1–5 scale for images; documented per corruption). */
  readonly severity: number;
  /** What it does, with its parameters. */
  readonly description: string;
  apply(x: Float32Array, ctx: CorruptionContext): Float32Array;
}
