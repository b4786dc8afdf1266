import type { WeightArrays } from '../weights.ts';
import { weightedAverage } from './aggregate-fedavg.ts';
import { checkUpdates } from './check-updates.ts';
import { checkRound, checkStateLayout } from './strategy-math.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { AggregateResult, Strategy, WeightedUpdate } from './strategy.ts';

/**
 * FedAvgM (Hsu, Qi, Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for Federated
 * Visual Classification"): server momentum over the FedAvg pseudo-gradient.
 *   Δ_t = Σ_k (n_k/N) w_k − x_t        (example-weighted, as FedAvg)
 *   m_t = β · m_{t−1} + Δ_t            (m_0 = Δ_0)
 *   x_{t+1} = x_t + η · m_t
 * With β = 0 and η = 1 this is FedAvg. The momentum buffer and round counter are returned in the state.
 */
export interface FedAvgMOptions {
  /** Server learning rate η > 0. */
  serverLr: number;
  /** Server momentum β in [0, 1). */
  momentum: number;
}

/** η = 1, β = 0.9 as in Hsu et al.; note the effective step η/(1 − β) = 10 — lower η for fine-tuning. */
export const FEDAVGM_DEFAULTS: Readonly<FedAvgMOptions> = Object.freeze({ serverLr: 1, momentum: 0.9 });

export interface FedAvgMState {
  /** Rounds aggregated so far. */
  round: number;
  /** m_{t−1}, one Float32Array per tensor; null before the first round. */
  momentum: WeightArrays | null;
}

export function resolveFedAvgMOptions(options?: Partial<FedAvgMOptions>): FedAvgMOptions {
  const o = resolveOptions('fedavgm', FEDAVGM_DEFAULTS, options);
  requireNumber('fedavgm', 'serverLr', o.serverLr, { min: 0, minExclusive: true });
  requireNumber('fedavgm', 'momentum', o.momentum, { min: 0, max: 1, maxExclusive: true });
  return o;
}

export function initialFedAvgMState(): FedAvgMState {
  return { round: 0, momentum: null };
}

export function aggregateFedAvgM(
  global: WeightArrays,
  updates: WeightedUpdate[],
  state: FedAvgMState | null | undefined,
  options?: Partial<FedAvgMOptions>,
): AggregateResult<FedAvgMState> {
  const { serverLr: eta, momentum: beta } = resolveFedAvgMOptions(options);
  checkUpdates(global, updates);
  const s = state ?? initialFedAvgMState();
  const round = checkRound('fedavgm', s.round);
  const prev = s.momentum;
  if (prev) checkStateLayout('fedavgm', 'momentum', global, prev);
  const avg = weightedAverage(global, updates);
  const momentum: WeightArrays = [];
  const weights: WeightArrays = [];
  for (let t = 0; t < global.length; t++) {
    const g = global[t], a = avg[t], n = g.length;
    const m = new Float32Array(n);
    const out = a; // reuse the average's buffer for the output: it is ours
    if (prev) {
      const p = prev[t];
      for (let i = 0; i < n; i++) {
        const mi = beta * p[i] + (a[i] - g[i]);
        m[i] = mi;
        out[i] = g[i] + eta * mi;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const mi = a[i] - g[i];
        m[i] = mi;
        out[i] = g[i] + eta * mi;
      }
    }
    momentum.push(m);
    weights.push(out);
  }
  return { weights, state: { round: round + 1, momentum } };
}

export const fedAvgM: Strategy<FedAvgMState, Partial<FedAvgMOptions>> = {
  name: 'fedavgm',
  reference: 'Hsu, Qi, Brown 2019, Measuring the Effects of Non-Identical Data Distribution for Federated Visual Classification',
  initialState: (options) => {
    resolveFedAvgMOptions(options);
    return initialFedAvgMState();
  },
  aggregate: (global, updates, state, options) => aggregateFedAvgM(global, updates, state, options),
};
