import type { WeightArrays } from '../weights.ts';
import { checkUpdates } from './check-updates.ts';
import { SORT_BLOCK, sortedCoordinates, sortingNetwork, tensorColumns } from './strategy-math.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * FedTrimmedAvg (Yin, Chen, Ramchandran, Bartlett 2018, "Byzantine-Robust Distributed Learning: Towards
 * Optimal Statistical Rates", ICML): the coordinate-wise β-trimmed mean. For each coordinate the
 * k = ⌊β·n⌋ largest and k smallest values are dropped and the remaining n − 2k are averaged, unweighted.
 *
 * Like the median it is translation-equivariant, so it is taken directly on the weights rather than on the
 * deltas w_k − global (the paper's gradients): the result is the same.
 */
export interface FedTrimmedAvgOptions {
  /** Fraction β in [0, 0.5) trimmed from each side of every coordinate. */
  beta: number;
}

/** β = 0.2, as Flower's FedTrimmedAvg: with 10 sites it drops 2 on each side. */
export const FEDTRIMMEDAVG_DEFAULTS: Readonly<FedTrimmedAvgOptions> = Object.freeze({ beta: 0.2 });

export function resolveFedTrimmedAvgOptions(options?: Partial<FedTrimmedAvgOptions>): FedTrimmedAvgOptions {
  const o = resolveOptions('fedtrimmedavg', FEDTRIMMEDAVG_DEFAULTS, options);
  requireNumber('fedtrimmedavg', 'beta', o.beta, { min: 0, max: 0.5, maxExclusive: true });
  return o;
}

/** Number of values trimmed from each side for n updates. */
export function trimmedCount(n: number, beta: number): number {
  return Math.floor(beta * n);
}

export function aggregateFedTrimmedAvg(global: WeightArrays, updates: WeightedUpdate[], options?: Partial<FedTrimmedAvgOptions>): WeightArrays {
  const { beta } = resolveFedTrimmedAvgOptions(options);
  checkUpdates(global, updates);
  const n = updates.length;
  const k = trimmedCount(n, beta);
  const keep = n - 2 * k; // ≥ 1 since β < 0.5
  const inv = 1 / keep;
  const network = sortingNetwork(n, Array.from({ length: keep }, (_, j) => k + j));
  const reduce = (sorted: Float32Array, len: number, out: Float32Array, start: number): void => {
    // Stryker disable next-line EqualityOperator: equivalent: one more write is out[start + len], the next block's first (overwritten by it) or past the end (ignored).
    for (let i = 0; i < len; i++) {
      let s = 0;
      for (let p = k, o = k * SORT_BLOCK + i; p < n - k; p++, o += SORT_BLOCK) s += sorted[o];
      out[start + i] = s * inv;
    }
  };
  return global.map((g, t) => {
    const out = new Float32Array(g.length);
    sortedCoordinates(tensorColumns(updates, t), out, network, reduce);
    return out;
  });
}

export const fedTrimmedAvg: Strategy<null, Partial<FedTrimmedAvgOptions>> = {
  name: 'fedtrimmedavg',
  ignoresExampleCounts: true,
  reference: 'Yin et al. 2018, Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates (coordinate-wise trimmed mean)',
  initialState: (options) => {
    resolveFedTrimmedAvgOptions(options);
    return null;
  },
  aggregate: (global, updates, state, options) => ({ weights: aggregateFedTrimmedAvg(global, updates, options), state }),
};
