import type { WeightArrays } from '../weights.ts';
import { checkUpdates } from './check-updates.ts';
import { SORT_BLOCK, sortedCoordinates, sortingNetwork, tensorColumns } from './strategy-math.ts';
import { resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * FedMedian (Yin, Chen, Ramchandran, Bartlett 2018, "Byzantine-Robust Distributed Learning: Towards Optimal
 * Statistical Rates", ICML): the coordinate-wise median of the sites' models, unweighted (a site cannot buy
 * influence by claiming more examples). For an even number of updates, the mean of the two middle values.
 *
 * The paper takes the median of gradients; every update shares the same global model, and the median is
 * translation-equivariant (median(g + Δ_k) = g + median(Δ_k)), so it is taken directly on the weights,
 * which is exact (no rounding through deltas).
 */
export type FedMedianOptions = Record<string, never>;
export const FEDMEDIAN_DEFAULTS: Readonly<FedMedianOptions> = Object.freeze({});

export function aggregateFedMedian(global: WeightArrays, updates: WeightedUpdate[]): WeightArrays {
  checkUpdates(global, updates);
  const n = updates.length;
  const h = n >> 1;
  const odd = (n & 1) === 1;
  const network = sortingNetwork(n, odd ? [h] : [h - 1, h]);
  const hi = h * SORT_BLOCK, lo = (h - 1) * SORT_BLOCK;
  const reduce = (sorted: Float32Array, len: number, out: Float32Array, start: number): void => {
    if (odd) {
      // Stryker disable next-line EqualityOperator: equivalent: one more write is out[start + len], the next block's first (overwritten by it) or past the end (ignored).
      for (let i = 0; i < len; i++) out[start + i] = sorted[hi + i];
    } else {
      // Stryker disable next-line EqualityOperator: equivalent: as above.
      for (let i = 0; i < len; i++) out[start + i] = 0.5 * (sorted[lo + i] + sorted[hi + i]);
    }
  };
  return global.map((g, t) => {
    const out = new Float32Array(g.length);
    sortedCoordinates(tensorColumns(updates, t), out, network, reduce);
    return out;
  });
}

export const fedMedian: Strategy<null, Partial<FedMedianOptions>> = {
  name: 'fedmedian',
  ignoresExampleCounts: true,
  reference: 'Yin et al. 2018, Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates (coordinate-wise median)',
  initialState: (options) => {
    resolveOptions('fedmedian', FEDMEDIAN_DEFAULTS, options);
    return null;
  },
  aggregate: (global, updates, state, options) => {
    resolveOptions('fedmedian', FEDMEDIAN_DEFAULTS, options);
    return { weights: aggregateFedMedian(global, updates), state };
  },
};
