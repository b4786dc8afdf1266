import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { checkByzantineCount, krumScores, rankByScore, completeByzantineCount } from './aggregate-krum.ts';
import { checkUpdates } from './check-updates.ts';
import { pairwiseSquaredDistances, SORT_BLOCK, sortedCoordinates, sortingNetwork, tensorColumns } from './strategy-math.ts';
import { resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * Bulyan (El Mhamdi, Guerraoui, Rouault 2018, "The Hidden Vulnerability of Distributed Learning in Byzantium",
 * ICML), with Krum as the selection rule:
 *   1. select θ = n − 2f updates by applying Krum repeatedly, removing each selected update from the set
 *      (scores recomputed on what remains, from one n×n distance matrix);
 *   2. for every coordinate, average the β = θ − 2f selected values closest to their median.
 * Needs n ≥ 4f + 3. Unweighted. Like Krum and the median it is computed on the weights: distances and
 * coordinate-wise order are the same on the deltas w_k − global. Ties go to the smaller site id.
 */
export interface BulyanOptions {
  /** Number of byzantine updates f ≥ 0 to tolerate; needs n ≥ 4f + 3. */
  f: number;
}

/** f = 0 (Bulyan is then a plain mean): set f to the number of sites you distrust. */
export const BULYAN_DEFAULTS: Readonly<BulyanOptions> = Object.freeze({ f: 0 });

export function resolveBulyanOptions(options?: Partial<BulyanOptions>): BulyanOptions {
  const o = resolveOptions('bulyan', BULYAN_DEFAULTS, options);
  checkByzantineCount('bulyan', o.f);
  return o;
}

/** Indices of the θ = n − 2f updates Bulyan's recursive Krum selects, in selection order. */
export function bulyanSelection(updates: WeightedUpdate[], f: number): number[] {
  const n = updates.length;
  const dist = pairwiseSquaredDistances(updates.map((u) => u.weights));
  const remaining = Array.from({ length: n }, (_, i) => i);
  const selected: number[] = [];
  const theta = n - 2 * f;
  while (selected.length < theta) {
    const scores = krumScores(dist, n, remaining, f);
    const best = rankByScore(scores, remaining.map((k) => updates[k].siteId))[0];
    selected.push(remaining[best]);
    remaining.splice(best, 1);
  }
  return selected;
}

export function aggregateBulyan(global: WeightArrays, updates: WeightedUpdate[], options?: Partial<BulyanOptions>): WeightArrays {
  const { f } = resolveBulyanOptions(options);
  checkUpdates(global, updates);
  const n = updates.length;
  if (n < 4 * f + 3) {
    throw new FedtuneError('config', `bulyan: needs at least 4f + 3 = ${4 * f + 3} updates to tolerate f = ${f} byzantine sites, got ${n}`);
  }
  const selected = bulyanSelection(updates, f);
  const theta = selected.length;
  const beta = theta - 2 * f;
  const inv = 1 / beta;
  const h = theta >> 1;
  const odd = (theta & 1) === 1;
  // Average of the β sorted values closest to the median: they form a window around the middle, grown one
  // value at a time towards the closer side (ties to the lower side).
  const B = SORT_BLOCK;
  const reduce = (s: Float32Array, len: number, out: Float32Array, start: number): void => {
    // Stryker disable next-line EqualityOperator: equivalent: the extra coordinate is out[start + len], the next block's first, which that block overwrites (or past the end, ignored).
    for (let c = 0; c < len; c++) {
      // s[p * B + c] is the p-th smallest value of coordinate start + c.
      const med = odd ? s[h * B + c] : 0.5 * (s[(h - 1) * B + c] + s[h * B + c]);
      let i: number, j: number, sum: number, count: number;
      // Stryker disable next-line ConditionalExpression: `false` is equivalent: for an odd θ the even start takes the middle value first anyway (distance 0; a tie below is an equal value) — checked on 200,000 random windows.
      if (odd) {
        i = h - 1;
        j = h + 1;
        sum = s[h * B + c];
        count = 1;
      } else {
        i = h - 1;
        j = h;
        sum = 0;
        count = 0;
      }
      while (count < beta) {
        // Stryker disable next-line ConditionalExpression: equivalent: dropping `i >= 0` reads s[negative], undefined, and NaN ≤ x is false: the upper side is taken, as the guard does.
        if (j >= theta || (i >= 0 && med - s[i * B + c] <= s[j * B + c] - med)) sum += s[i-- * B + c];
        else sum += s[j++ * B + c];
        count++;
      }
      out[start + c] = sum * inv;
    }
  };
  const chosen = selected.map((k) => updates[k]);
  const network = sortingNetwork(theta);
  return global.map((g, t) => {
    const out = new Float32Array(g.length);
    sortedCoordinates(tensorColumns(chosen, t), out, network, reduce);
    return out;
  });
}

export const bulyan: Strategy<null, Partial<BulyanOptions>> = {
  name: 'bulyan',
  ignoresExampleCounts: true,
  reference: 'El Mhamdi, Guerraoui, Rouault 2018, The Hidden Vulnerability of Distributed Learning in Byzantium',
  initialState: (options) => {
    resolveBulyanOptions(options);
    return null;
  },
  aggregate: (global, updates, state, options) => ({ weights: aggregateBulyan(global, updates, options), state }),
  completeOptions: completeByzantineCount,
  minimumUpdates: (options) => 4 * resolveBulyanOptions(options).f + 3,
};
