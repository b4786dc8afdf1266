import type { WeightArrays } from '../weights.ts';
import { aggregateFedAvg } from './aggregate-fedavg.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks", MLSys).
 * Sites minimise their loss plus (μ/2)·‖w − w_global‖²; the server aggregates exactly as FedAvg does.
 * The proximal term is client-side: the coordinator sends `proximalMu` to the sites with each round.
 */
export interface FedProxOptions {
  /** μ ≥ 0, the proximal coefficient sent to the sites (μ = 0 is FedAvg). Li et al. try 0.001–1. */
  proximalMu: number;
}

export const FEDPROX_DEFAULTS: Readonly<FedProxOptions> = Object.freeze({ proximalMu: 0.01 });

export function resolveFedProxOptions(options?: Partial<FedProxOptions>): FedProxOptions {
  const o = resolveOptions('fedprox', FEDPROX_DEFAULTS, options);
  requireNumber('fedprox', 'proximalMu', o.proximalMu, { min: 0 });
  return o;
}

/** FedProx aggregation: the example-weighted average of the sites' models (same as FedAvg). */
export function aggregateFedProx(global: WeightArrays, updates: WeightedUpdate[], options?: Partial<FedProxOptions>): WeightArrays {
  resolveFedProxOptions(options);
  return aggregateFedAvg(global, updates);
}

export const fedProx: Strategy<null, Partial<FedProxOptions>> = {
  name: 'fedprox',
  reference: 'Li et al. 2020, Federated Optimization in Heterogeneous Networks',
  initialState: (options) => {
    resolveFedProxOptions(options);
    return null;
  },
  aggregate: (global, updates, state, options) => ({ weights: aggregateFedProx(global, updates, options), state }),
  // μ reaches the sites with every round's fit instruction: the proximal term is theirs to add.
  configureTrain: (train, { options }) => ({ ...train, proximalMu: resolveFedProxOptions(options).proximalMu }),
};
