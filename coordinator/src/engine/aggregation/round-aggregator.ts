import type { FixedPointConfig, WeightArrays } from '@fedtune/shared';
import type { AggregatorKind, AggregatorPartial } from './aggregator-partial.ts';

/** What one attempt of one round aggregates against: fixed when the attempt starts (`RoundAggregator.begin`). */
export interface AggregationPlan {
  runId: string;
  round: number;
  /** The attempt of the round (1-based): a retried round aggregates afresh, and partials of another attempt are refused. */
  attempt: number;
  /** The global weights the sites trained from. */
  global: WeightArrays;
  /** The strategy's state before this round. */
  strategyState: unknown;
  /** How many sites were selected (DP's fixed denominator m). */
  selected: number;
  /** DP: this round's clip C (the adaptive clip's current value). */
  dpClip?: number;
  /** Secure aggregation: the attempt's fixed-point encoding (its instruction's), to decode the ring sum. */
  fixedPoint?: FixedPointConfig;
}

/** One validated update, as the round's checks passed it. */
export interface AggregatorUpdate {
  siteId: string;
  weights: WeightArrays;
  /** What the update weighs in an average (the capped count, update-guard.ts). */
  numExamples: number;
}

/** A finished aggregate. */
export interface AggregationOutcome {
  /** The candidate global weights (the adoption guard still decides: model-adoption.ts). */
  weights: WeightArrays;
  /** The strategy's state after this round (unchanged for streaming FedAvg and DP). */
  strategyState: unknown;
  /** DP only: the clip used, the next round's clip, and the share of clipped updates (null when unknown). */
  dp?: { clip: number; nextClip: number; clippedShare: number | null };
  /** The sites in the aggregate, in site-id order, and their total (weighting) examples. */
  siteIds: string[];
  count: number;
  totalExamples: number;
}

/**
 * One round's aggregation, whatever the run aggregates with (streaming FedAvg, a strategy over individual
 * updates, central DP, a secure sum). Its state can be taken out as a plain, versioned `partial()` — on
 * another coordinator node, say — and merged here: the result is BIT-IDENTICAL to having added every
 * update to one aggregator, for any split and any order (docs/operations.md#round-aggregators).
 *
 * `merge` treats a partial as hostile (it comes from another process): a partial of another run, round,
 * attempt or kind, a site already in the aggregate, or a malformed state is refused with a FedtuneError
 * and leaves the aggregator unchanged.
 */
export interface RoundAggregator {
  readonly kind: AggregatorKind;
  /** Values with |w| above this cannot be aggregated (validate-fit-result.ts refuses them first); absent: no such limit. */
  readonly maxAbs?: number;
  /** Starts an attempt: forgets everything added or merged before. */
  begin(plan: AggregationPlan): void;
  /** Folds one validated update in. A site already in the aggregate: 'duplicate_result'. */
  add(update: AggregatorUpdate): void;
  /** The sites in the aggregate so far. */
  readonly siteIds: ReadonlySet<string>;
  /** Everything added and merged so far, as plain data (JSON-safe: numbers, strings, base64 bytes). */
  partial(): AggregatorPartial;
  /** Folds another aggregator's partial in (see above for what is refused). */
  merge(partial: unknown): void;
  /** The aggregate of everything added and merged. Throws 'no_updates' when there is nothing to aggregate. */
  finish(): AggregationOutcome;
}
