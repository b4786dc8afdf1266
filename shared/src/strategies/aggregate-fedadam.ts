import type { WeightArrays } from '../weights.ts';
import {
  aggregateAdaptive,
  checkAdaptiveOptions,
  initialAdaptiveState,
  type AdaptiveOptions,
  type AdaptiveState,
} from './server-optimizer.ts';
import { resolveOptions } from './strategy-options.ts';
import type { AggregateResult, Strategy, WeightedUpdate } from './strategy.ts';

/**
 * FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", ICLR, Algorithm 2): server-side Adam on the
 * pseudo-gradient Δ_t = avg_k(w_k) − x_t (example-weighted), with v_t = β2 · v_{t−1} + (1 − β2) · Δ_t²
 * and x_{t+1} = x_t + η · m_t / (√v_t + τ). See server-optimizer.ts for the shared update.
 */
export type FedAdamOptions = AdaptiveOptions;
export type FedAdamState = AdaptiveState;

/** β1 = 0.9, β2 = 0.99, τ = 1e-3 as in Reddi et al.; η = 1e-2 (the paper tunes η per task). */
export const FEDADAM_DEFAULTS: Readonly<FedAdamOptions> = Object.freeze({ serverLr: 1e-2, beta1: 0.9, beta2: 0.99, tau: 1e-3 });

export function resolveFedAdamOptions(options?: Partial<FedAdamOptions>): FedAdamOptions {
  return checkAdaptiveOptions('fedadam', resolveOptions('fedadam', FEDADAM_DEFAULTS, options));
}

export function aggregateFedAdam(
  global: WeightArrays,
  updates: WeightedUpdate[],
  state: FedAdamState | null | undefined,
  options?: Partial<FedAdamOptions>,
): AggregateResult<FedAdamState> {
  return aggregateAdaptive('fedadam', 'adam', global, updates, state, resolveFedAdamOptions(options));
}

export const fedAdam: Strategy<FedAdamState, Partial<FedAdamOptions>> = {
  name: 'fedadam',
  reference: 'Reddi et al. 2021, Adaptive Federated Optimization (FedAdam)',
  initialState: (options) => {
    resolveFedAdamOptions(options);
    return initialAdaptiveState();
  },
  aggregate: (global, updates, state, options) => aggregateFedAdam(global, updates, state, options),
};
