import type { RobustnessOptions, RobustnessReport, TemperatureStats, WeightArrays } from '@fedtune/shared';
import type { GlobalMetrics, GlobalModel } from './global-model.ts';

/**
 * Where the holdout evaluation of a model may be made instead of here: resolves with its metrics, or with
 * undefined to have it made here (cluster/leader-delegated-evaluation.ts asks a follower).
 */
export type EvaluateElsewhere = (weights: WeightArrays) => Promise<GlobalMetrics | undefined>;

/**
 * A global model whose holdout evaluation is first offered elsewhere (a cluster's follower); everything else
 * — topology, robustness, calibration, saving — is the inner model's. The numbers are the same either way: the
 * same weights on the same holdout with the same code.
 */
export class DelegatedEvaluationModel implements GlobalModel {
  readonly evaluateRobustness?: (weights: WeightArrays, options: RobustnessOptions) => Promise<RobustnessReport>;
  readonly prepareRobustness?: (options: RobustnessOptions) => Promise<number>;
  readonly prepareRobustnessHelper?: (options: RobustnessOptions) => void;
  readonly fitTemperature?: (weights: WeightArrays) => Promise<{ temperature: number; fittedOn: number }>;
  readonly calibrationReference?: (weights: WeightArrays, betas: readonly number[]) => Promise<{ betas: number[]; count: number; stats: TemperatureStats[] }>;

  constructor(
    private readonly inner: GlobalModel,
    private readonly elsewhere: EvaluateElsewhere,
  ) {
    if (inner.evaluateRobustness) this.evaluateRobustness = (w, o) => inner.evaluateRobustness!(w, o);
    if (inner.prepareRobustness) this.prepareRobustness = (o) => inner.prepareRobustness!(o);
    if (inner.prepareRobustnessHelper) this.prepareRobustnessHelper = (o) => inner.prepareRobustnessHelper!(o);
    if (inner.fitTemperature) this.fitTemperature = (w) => inner.fitTemperature!(w);
    if (inner.calibrationReference) this.calibrationReference = (w, b) => inner.calibrationReference!(w, b);
  }

  get holdoutSize() {
    return this.inner.holdoutSize;
  }
  get architecture() {
    return this.inner.architecture;
  }
  get manifest() {
    return this.inner.manifest;
  }
  get topology() {
    return this.inner.topology;
  }
  get initialWeights() {
    return this.inner.initialWeights;
  }
  get text() {
    return this.inner.text;
  }

  async evaluate(weights: WeightArrays): Promise<GlobalMetrics> {
    return (await this.elsewhere(weights)) ?? this.inner.evaluate(weights);
  }

  save(round: number, weights: WeightArrays, metadata?: Record<string, unknown>): Promise<string> {
    return this.inner.save(round, weights, metadata);
  }
}
