import type { TrainConfig } from '../messages/schemas.ts';
import type { WeightArrays } from '../weights.ts';

/** What a round's fit instruction tells the sites about training, before the per-site seed is added. */
export type TrainSettings = Omit<TrainConfig, 'seed'>;

/** What a strategy may know when it configures a round (Flower's `configure_fit`): nothing about any one site. */
export interface ConfigureTrainContext<S, O> {
  /** The round about to start (1-based). */
  round: number;
  state: S;
  options: O;
}

/** What the run knows that a strategy's options may default to. */
export interface StrategyDefaultsContext {
  /** The number of malicious sites the run is told to expect (run config `expectedMaliciousSites`). */
  expectedMaliciousSites?: number;
}

/** One site's contribution to a round: its locally trained weights and how many examples produced them. */
export interface WeightedUpdate {
  siteId: string;
  weights: WeightArrays;
  numExamples: number;
}

export interface AggregateResult<S> {
  weights: WeightArrays;
  state: S;
}

/**
 * A strategy is pure: (global, updates, state) → (weights, state). No I/O, no timers, no randomness
 * beyond what its state carries. Updates arrive in canonical order (sorted by site id).
 */
export interface Strategy<S = unknown, O = unknown> {
  readonly name: string;
  /** Paper the strategy implements. */
  readonly reference: string;
  /**
   * True when the aggregate does not depend on the updates' example counts (a median, a trimmed mean, Krum's
   * selection, a clipped centre of equal weights). The run then refuses an explicit `exampleWeightCap` that
   * bounds nothing else (coordinator/src/config/inactive-run-config.ts). Absent: the strategy weighs updates by their counts.
   */
  readonly ignoresExampleCounts?: boolean;
  initialState(options: O): S;
  aggregate(global: WeightArrays, updates: WeightedUpdate[], state: S, options: O): AggregateResult<S>;
  /**
   * The one hook through which a strategy tells the sites how to train this round (Flower's
   * `configure_fit`): returns the training settings to send, given the run's. Pure. Absent: the run's
   * settings unchanged.
   */
  configureTrain?(train: TrainSettings, context: ConfigureTrainContext<S, O>): TrainSettings;
  /**
   * Fills options the user left out from what the run knows (e.g. Krum's f from the expected number of
   * malicious sites). Pure; given options always win. Absent: the options unchanged.
   */
  completeOptions?(options: O, context: StrategyDefaultsContext): O;
  /**
   * The fewest updates a round must aggregate (e.g. Krum's 2f + 3). The engine refuses a run whose
   * `minSites` is below it before anything trains, and counts it in every round's quorum. Absent: 1.
   */
  minimumUpdates?(options: O): number;
}
