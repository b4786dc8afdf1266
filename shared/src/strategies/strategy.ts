import type { WeightArrays } from '../weights.ts';

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
  initialState(options: O): S;
  aggregate(global: WeightArrays, updates: WeightedUpdate[], state: S, options: O): AggregateResult<S>;
}
