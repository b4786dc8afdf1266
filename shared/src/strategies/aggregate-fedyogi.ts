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
 * FedYogi (Reddi et al. 2021, "Adaptive Federated Optimization", ICLR, Algorithm 2): server-side Yogi on the
 * pseudo-gradient Δ_t = avg_k(w_k) − x_t (example-weighted), with v_t = v_{t−1} − (1 − β2) · Δ_t² · sign(v_{t−1} − Δ_t²)
 * and x_{t+1} = x_t + η · m_t / (√v_t + τ). See server-optimizer.ts for the shared update.
 */
export type FedYogiOptions = AdaptiveOptions;
export type FedYogiState = AdaptiveState;

/** β1 = 0.9, β2 = 0.99, τ = 1e-3 as in Reddi et al.; η = 1e-2 (the paper tunes η per task). */
export const FEDYOGI_DEFAULTS: Readonly<FedYogiOptions> = Object.freeze({ serverLr: 1e-2, beta1: 0.9, beta2: 0.99, tau: 1e-3 });

export function resolveFedYogiOptions(options?: Partial<FedYogiOptions>): FedYogiOptions {
  return checkAdaptiveOptions('fedyogi', resolveOptions('fedyogi', FEDYOGI_DEFAULTS, options));
}

export function aggregateFedYogi(
  global: WeightArrays,
  updates: WeightedUpdate[],
  state: FedYogiState | null | undefined,
  options?: Partial<FedYogiOptions>,
): AggregateResult<FedYogiState> {
  return aggregateAdaptive('fedyogi', 'yogi', global, updates, state, resolveFedYogiOptions(options));
}

export const fedYogi: Strategy<FedYogiState, Partial<FedYogiOptions>> = {
  name: 'fedyogi',
  reference: 'Reddi et al. 2021, Adaptive Federated Optimization (FedYogi)',
  initialState: (options) => {
    resolveFedYogiOptions(options);
    return initialAdaptiveState();
  },
  aggregate: (global, updates, state, options) => aggregateFedYogi(global, updates, state, options),
};
