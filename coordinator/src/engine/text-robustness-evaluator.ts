import type { TextRobustnessReport, WeightArrays } from '@fedtune/shared';

/**
 * Evaluates the text robustness of a global model given its weights, on the coordinator's holdout texts
 * (the coordinator owns them; sites never send text). Built by whoever knows the task (run-simulation.ts for
 * `--task spam`); the round engine calls it once, after the final round.
 */
export type TextRobustnessEvaluator = (weights: WeightArrays) => Promise<TextRobustnessReport>;
