import { z } from 'zod';
import { SmoothingConfig } from './certification/smoothing-config.ts';
import { ATTACK_LOSSES } from './attacks/attack-loss.ts';

const List = z.union([z.boolean(), z.array(z.number().min(0).max(1)).max(32)]);

/**
 * The run-config side of the robustness evaluation: how often it runs and the `RobustnessOptions` it runs
 * with (validated; every field optional). `when`: 'every-round', 'final' (the final model only), 'never',
 * or k (every k-th round and the final one).
 */
export const RobustnessEvaluationConfig = z.object({
  when: z.union([z.enum(['every-round', 'final', 'never']), z.number().int().min(1)]).default('final'),
  examples: z.number().int().min(1).optional(),
  adversarialExamples: z.number().int().min(0).optional(),
  batchSize: z.number().int().min(1).max(65536).optional(),
  seed: z.number().int().min(0).optional(),
  noise: List.optional(),
  corruptions: z.union([z.boolean(), z.array(z.string().max(64)).max(64)]).optional(),
  fgsm: List.optional(),
  pgd: List.optional(),
  pgdSteps: z.number().int().min(1).max(1000).optional(),
  pgdStepSize: z.number().positive().max(1).optional(),
  /** The losses the attacks ascend, each on what the ones before left correct (default: cross-entropy, then margin; evaluate-robustness.ts). */
  attackLosses: z.array(z.enum(ATTACK_LOSSES)).min(1).max(ATTACK_LOSSES.length).refine((l) => new Set(l).size === l.length, 'each loss at most once').optional(),
  /** Units of the attacks' ε and step size: absolute input units, or each feature's standard deviation (default: absolute for images, feature-std for tabular data). */
  epsUnits: z.enum(['absolute', 'feature-std', 'data-std']).optional(),
  /** PGD-L2 radii (in epsUnits), or false (default: none). */
  pgdL2: z.union([z.boolean(), z.array(z.number().min(0).max(100)).max(32)]).optional(),
  /** Square Attack (black-box L∞) ε list, true for the PGD list, or false (default: none). */
  square: List.optional(),
  /** Square Attack: queries per example at most and the first squares' share of the pixels (defaults: ROBUSTNESS_DEFAULTS in evaluate-robustness.ts). */
  squareQueries: z.number().int().min(1).max(100_000).optional(),
  squarePInit: z.number().gt(0).max(1).optional(),
  /** The headline ε (absolute), added to the FGSM and PGD lists and reported as `headlineEps` (the built-in task's: digitsHeadlineEps). */
  headlineEps: z.number().min(0).max(1).optional(),
  /** Randomized smoothing of the final model (certified L2 accuracy); absent: off. `{}` takes every default of SmoothingConfig. */
  certify: SmoothingConfig.optional(),
});
export type RobustnessEvaluationConfig = z.output<typeof RobustnessEvaluationConfig>;

/** Whether round `round` (1-based) of `totalRounds` gets a robustness evaluation of the global model. */
export function shouldEvaluateRobustness(when: RobustnessEvaluationConfig['when'], round: number, totalRounds: number): boolean {
  if (when === 'never') return false;
  if (when === 'every-round') return true;
  if (when === 'final') return round === totalRounds;
  return round % when === 0 || round === totalRounds;
}

/** Worst-site, 10th-percentile and mean accuracy over the sites' federated evaluations. */
export function siteAccuracySummary(sites: ReadonlyArray<{ siteId: string; accuracy: number }>): {
  worst: { siteId: string; accuracy: number } | null;
  p10: number | null;
  mean: number | null;
} {
  if (sites.length === 0) return { worst: null, p10: null, mean: null };
  const sorted = [...sites].sort((a, b) => a.accuracy - b.accuracy);
  // Linear interpolation between order statistics (numpy's default percentile).
  const pos = 0.1 * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const p10 = sorted[lo].accuracy + (pos - lo) * (sorted[hi].accuracy - sorted[lo].accuracy);
  return { worst: { siteId: sorted[0].siteId, accuracy: sorted[0].accuracy }, p10, mean: sites.reduce((s, x) => s + x.accuracy, 0) / sites.length };
}

/**
 * What a robustness evaluation with `config` measures beyond clean accuracy, for a progress line ("noise,
 * corruptions, FGSM, PGD"): noise, corruptions, FGSM and PGD unless turned off (false or an empty list),
 * PGD-L2 and the Square Attack when asked for, and certification.
 */
export function robustnessParts(config: RobustnessEvaluationConfig): string[] {
  const unlessOff = (v: boolean | readonly unknown[] | undefined) => v !== false && !(Array.isArray(v) && v.length === 0);
  const asked = (v: boolean | readonly unknown[] | undefined) => v === true || (Array.isArray(v) && v.length > 0);
  const parts: Array<[string, boolean]> = [
    ['noise', unlessOff(config.noise)],
    ['corruptions', unlessOff(config.corruptions)],
    ['FGSM', unlessOff(config.fgsm)],
    ['PGD', unlessOff(config.pgd)],
    ['PGD-L2', asked(config.pgdL2)],
    ['Square', asked(config.square)],
    ['certification', config.certify !== undefined],
  ];
  return parts.filter(([, on]) => on).map(([name]) => name);
}
