import type { ModelTextSection, RobustnessOptions, RobustnessReport, TemperatureStats, WeightArrays, WeightsManifest } from '@fedtune/shared';

export interface GlobalMetrics {
  accuracy: number;
  loss: number;
  /** Extra measurements (e.g. `backdoorSuccessRate`), by name. */
  probes?: Record<string, number>;
}

/**
 * What the round engine needs of the global model, without knowing tfjs: its layout, its topology to
 * send to sites, an evaluation on the coordinator's held-out set, and a way to save a round's weights.
 */
export interface GlobalModel {
  readonly architecture: string;
  readonly manifest: WeightsManifest;
  readonly topology: Record<string, unknown>;
  readonly initialWeights: WeightArrays;
  /** A text model's vocabulary, sent to the sites with the topology (model-text-section.ts). */
  readonly text?: ModelTextSection;
  evaluate(weights: WeightArrays): Promise<GlobalMetrics>;
  /** Robustness evaluation (noise, corruptions, FGSM/PGD, calibration) on the holdout, if supported. */
  evaluateRobustness?(weights: WeightArrays, options: RobustnessOptions): Promise<RobustnessReport>;
  /** Makes what a robustness evaluation with these options perturbs ahead of it (model-independent); resolves with how many inputs it made. */
  prepareRobustness?(options: RobustnessOptions): Promise<number>;
  /**
   * A robustness evaluation with these options comes within a round: start (and warm) what shares it, if
   * anything (tf-global-model.ts: the robustness helper). Idempotent; nothing to await.
   */
  prepareRobustnessHelper?(options: RobustnessOptions): void;
  /** The temperature minimising the holdout NLL of the model with these weights (temperature scaling), and the examples it was fitted on. */
  fitTemperature?(weights: WeightArrays): Promise<{ temperature: number; fittedOn: number }>;
  /**
   * The temperature-scaling sums of the model with these weights over the holdout at each inverse temperature, as a
   * site sends them for its validation split: the trusted member of a federated fit's bounds (federated-calibration.ts).
   */
  calibrationReference?(weights: WeightArrays, betas: readonly number[]): Promise<{ betas: number[]; count: number; stats: TemperatureStats[] }>;
  /** How many examples the holdout holds: the trusted member of the federated evaluation's count median (evaluation-collector.ts). */
  readonly holdoutSize?: number;
  /** Saves the weights of `round` and returns the directory (relative to the run directory). */
  save(round: number, weights: WeightArrays, metadata?: Record<string, unknown>): Promise<string>;
}
