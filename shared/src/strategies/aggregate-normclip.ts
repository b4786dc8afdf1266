import type { WeightArrays } from '../weights.ts';
import { checkUpdates } from './check-updates.ts';
import { addSquaredDistances, addWeightedDeltas, exampleShares, tensorColumns } from './strategy-math.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * Norm-bounded averaging (Sun, Kairouz, Suresh, McMahan 2019, "Can You Really Backdoor Federated Learning?"):
 * each update's DELTA Δ_k = w_k − global is clipped to L2 norm at most M (over all tensors together),
 * Δ_k · min(1, M / ‖Δ_k‖), and the clipped deltas are averaged weighted by examples:
 *   w = global + Σ_k (n_k / N) · Δ_k · min(1, M / ‖Δ_k‖)
 * Updates within the bound are averaged exactly as FedAvg does.
 */
export interface NormClipOptions {
  /** Norm bound M > 0 on each update's delta. */
  maxNorm: number;
}

/** M = 5. The right bound depends on the model, the local learning rate and epochs: measure honest norms. */
export const NORMCLIP_DEFAULTS: Readonly<NormClipOptions> = Object.freeze({ maxNorm: 5 });

export function resolveNormClipOptions(options?: Partial<NormClipOptions>): NormClipOptions {
  const o = resolveOptions('normclip', NORMCLIP_DEFAULTS, options);
  requireNumber('normclip', 'maxNorm', o.maxNorm, { min: 0, minExclusive: true });
  return o;
}

/** The factor min(1, M / ‖Δ‖) applied to each update's delta. */
export function clipFactors(global: WeightArrays, updates: WeightedUpdate[], maxNorm: number): Float64Array {
  const sums = new Float64Array(updates.length);
  for (let t = 0; t < global.length; t++) addSquaredDistances(sums, tensorColumns(updates, t), global[t]);
  return sums.map((s) => {
    const norm = Math.sqrt(s);
    return norm > maxNorm ? maxNorm / norm : 1;
  });
}

export function aggregateNormClip(global: WeightArrays, updates: WeightedUpdate[], options?: Partial<NormClipOptions>): WeightArrays {
  const { maxNorm } = resolveNormClipOptions(options);
  checkUpdates(global, updates);
  const factors = clipFactors(global, updates, maxNorm);
  const coeffs = exampleShares(updates).map((share, k) => share * factors[k]);
  return global.map((g, t) => {
    const out = new Float32Array(g.length);
    addWeightedDeltas(out, g, tensorColumns(updates, t), coeffs);
    return out;
  });
}

export const normClip: Strategy<null, Partial<NormClipOptions>> = {
  name: 'normclip',
  reference: 'Sun et al. 2019, Can You Really Backdoor Federated Learning? (norm-bounded averaging)',
  initialState: (options) => {
    resolveNormClipOptions(options);
    return null;
  },
  aggregate: (global, updates, state, options) => ({ weights: aggregateNormClip(global, updates, options), state }),
};
