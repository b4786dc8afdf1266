import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { weightedAverage } from './aggregate-fedavg.ts';
import { checkUpdates } from './check-updates.ts';
import { checkRound, checkStateLayout } from './strategy-math.ts';
import { requireNumber } from './strategy-options.ts';
import type { AggregateResult, WeightedUpdate } from './strategy.ts';

/**
 * The adaptive server optimizers of Reddi et al. 2021, "Adaptive Federated Optimization" (ICLR), Algorithm 2,
 * shared by FedAdam, FedYogi and FedAdagrad. With x_t the global model:
 *   Δ_t = Σ_k (n_k/N) w_k − x_t                          (pseudo-gradient; example-weighted, as FedAvg)
 *   m_t = β1 · m_{t−1} + (1 − β1) · Δ_t                  (m_{−1} = 0)
 *   v_t = v_{t−1} + Δ_t²                                  FedAdagrad
 *   v_t = v_{t−1} − (1 − β2) · Δ_t² · sign(v_{t−1} − Δ_t²)  FedYogi
 *   v_t = β2 · v_{t−1} + (1 − β2) · Δ_t²                  FedAdam
 *   x_{t+1} = x_t + η · m_t / (√v_t + τ)
 * As in the paper there is no bias correction, and v_{−1} = τ² (the paper asks v_{−1} ≥ τ²). The moments
 * and the round counter are returned in the state.
 */
export type AdaptiveRule = 'adagrad' | 'yogi' | 'adam';

export interface AdaptiveOptions {
  /** Server learning rate η > 0. */
  serverLr: number;
  /** First-moment decay β1 in [0, 1). */
  beta1: number;
  /** Second-moment decay β2 in [0, 1) (unused by FedAdagrad). */
  beta2: number;
  /** Adaptivity τ > 0: the larger, the closer to plain server SGD. */
  tau: number;
}

export interface AdaptiveState {
  /** Rounds aggregated so far. */
  round: number;
  /** First moment m_{t−1}; null before the first round. */
  m: WeightArrays | null;
  /** Second moment v_{t−1}; null before the first round (taken as τ²). */
  v: WeightArrays | null;
}

export function initialAdaptiveState(): AdaptiveState {
  return { round: 0, m: null, v: null };
}

export function checkAdaptiveOptions(strategy: string, o: AdaptiveOptions): AdaptiveOptions {
  requireNumber(strategy, 'serverLr', o.serverLr, { min: 0, minExclusive: true });
  requireNumber(strategy, 'beta1', o.beta1, { min: 0, max: 1, maxExclusive: true });
  requireNumber(strategy, 'beta2', o.beta2, { min: 0, max: 1, maxExclusive: true });
  requireNumber(strategy, 'tau', o.tau, { min: 0, minExclusive: true });
  return o;
}

/** One round of the adaptive rule. `options` must already be resolved and checked. */
export function aggregateAdaptive(
  strategy: string,
  rule: AdaptiveRule,
  global: WeightArrays,
  updates: WeightedUpdate[],
  state: AdaptiveState | null | undefined,
  options: AdaptiveOptions,
): AggregateResult<AdaptiveState> {
  checkUpdates(global, updates);
  const s = state ?? initialAdaptiveState();
  const round = checkRound(strategy, s.round);
  if ((s.m === null) !== (s.v === null)) {
    throw new FedtuneError('config', `${strategy}: state must carry both moments (m and v) or neither`);
  }
  if (s.m) checkStateLayout(strategy, 'm', global, s.m);
  if (s.v) checkStateLayout(strategy, 'v', global, s.v);
  const { serverLr: eta, beta1: b1, beta2: b2, tau } = options;
  const tau2 = tau * tau;
  const avg = weightedAverage(global, updates);
  const weights: WeightArrays = [];
  const m: WeightArrays = [];
  const v: WeightArrays = [];
  for (let t = 0; t < global.length; t++) {
    const x = global[t], a = avg[t], n = x.length;
    const mPrev = s.m ? s.m[t] : null;
    const vPrev = s.v ? s.v[t] : null;
    const mt = new Float32Array(n);
    const vt = new Float32Array(n);
    const out = a; // the average's buffer is ours: overwrite it with the new model
    // One loop per rule so the inner loop has no branch on the rule.
    if (rule === 'adam') {
      for (let i = 0; i < n; i++) {
        const d = a[i] - x[i];
        const mi = (mPrev ? b1 * mPrev[i] : 0) + (1 - b1) * d;
        const vi = b2 * (vPrev ? vPrev[i] : tau2) + (1 - b2) * d * d;
        mt[i] = mi;
        vt[i] = vi;
        out[i] = x[i] + (eta * mi) / (Math.sqrt(vi) + tau);
      }
    } else if (rule === 'yogi') {
      for (let i = 0; i < n; i++) {
        const d = a[i] - x[i];
        const d2 = d * d;
        const mi = (mPrev ? b1 * mPrev[i] : 0) + (1 - b1) * d;
        const vp = vPrev ? vPrev[i] : tau2;
        const vi = vp - (1 - b2) * d2 * Math.sign(vp - d2);
        mt[i] = mi;
        vt[i] = vi;
        out[i] = x[i] + (eta * mi) / (Math.sqrt(vi) + tau);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const d = a[i] - x[i];
        const mi = (mPrev ? b1 * mPrev[i] : 0) + (1 - b1) * d;
        const vi = (vPrev ? vPrev[i] : tau2) + d * d;
        mt[i] = mi;
        vt[i] = vi;
        out[i] = x[i] + (eta * mi) / (Math.sqrt(vi) + tau);
      }
    }
    m.push(mt);
    v.push(vt);
    weights.push(out);
  }
  return { weights, state: { round: round + 1, m, v } };
}
