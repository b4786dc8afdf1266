import type { TextRobustnessReport, WeightArrays } from '@fedtune/shared';

/**
 * Evaluates the text robustness of a global model given its weights, on the coordinator's holdout texts
 * (the coordinator owns them; sites never send text). Built by whoever knows the task (run-simulation.ts for
 * `--task spam`); the round engine calls it once, after the final round, with the run's own settings:
 * `examples` is the run config's robustness.examples (`--robustness-examples`) when given, and bounds the holdout
 * texts evaluated (over the evaluator's own default); `seed` is robustness.seed when given, and seeds the sample and
 * every corruption.
 */
export type TextRobustnessEvaluator = (weights: WeightArrays, run?: TextRobustnessRunSettings) => Promise<TextRobustnessReport>;

/** The run's settings of its text robustness evaluation (from the run config). */
export interface TextRobustnessRunSettings {
  /** Holdout texts evaluated (robustness.examples); absent: the evaluator's own default. */
  examples?: number;
  /** Seeds the sample of texts and every corruption (robustness.seed); absent: the evaluator's own default. */
  seed?: number;
}
