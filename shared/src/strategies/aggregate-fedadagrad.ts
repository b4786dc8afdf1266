import type { WeightArrays } from '../weights.ts';
import { aggregateAdaptive, checkAdaptiveOptions, initialAdaptiveState, type AdaptiveState } from './server-optimizer.ts';
import { resolveOptions } from './strategy-options.ts';
import type { AggregateResult, Strategy, WeightedUpdate } from './strategy.ts';

/**
 * FedAdagrad (Reddi et al. 2021, "Adaptive Federated Optimization", ICLR, Algorithm 2): server-side Adagrad on
 * the pseudo-gradient Δ_t = avg_k(w_k) − x_t (example-weighted), with v_t = v_{t−1} + Δ_t² and
 * x_{t+1} = x_t + η · m_t / (√v_t + τ). See server-optimizer.ts for the shared update.
 */
export interface FedAdagradOptions {
  /** Server learning rate η > 0. */
  serverLr: number;
  /** First-moment decay β1 in [0, 1); 0 (no momentum) by default. */
  beta1: number;
  /** Adaptivity τ > 0. */
  tau: number;
}
export type FedAdagradState = AdaptiveState;

/** β1 = 0 (plain Adagrad), τ = 1e-3, η = 1e-2 (the paper tunes η per task). */
export const FEDADAGRAD_DEFAULTS: Readonly<FedAdagradOptions> = Object.freeze({ serverLr: 1e-2, beta1: 0, tau: 1e-3 });

export function resolveFedAdagradOptions(options?: Partial<FedAdagradOptions>): FedAdagradOptions {
  const o = resolveOptions('fedadagrad', FEDADAGRAD_DEFAULTS, options);
  checkAdaptiveOptions('fedadagrad', { ...o, beta2: 0 });
  return o;
}

export function aggregateFedAdagrad(
  global: WeightArrays,
  updates: WeightedUpdate[],
  state: FedAdagradState | null | undefined,
  options?: Partial<FedAdagradOptions>,
): AggregateResult<FedAdagradState> {
  const o = resolveFedAdagradOptions(options);
  return aggregateAdaptive('fedadagrad', 'adagrad', global, updates, state, { ...o, beta2: 0 });
}

export const fedAdagrad: Strategy<FedAdagradState, Partial<FedAdagradOptions>> = {
  name: 'fedadagrad',
  reference: 'Reddi et al. 2021, Adaptive Federated Optimization (FedAdagrad)',
  initialState: (options) => {
    resolveFedAdagradOptions(options);
    return initialAdaptiveState();
  },
  aggregate: (global, updates, state, options) => aggregateFedAdagrad(global, updates, state, options),
};
