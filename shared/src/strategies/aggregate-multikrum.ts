import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { weightedAverage } from './aggregate-fedavg.ts';
import { checkByzantineCount, krumRanking, requireKrumQuorum, completeByzantineCount } from './aggregate-krum.ts';
import { checkUpdates } from './check-updates.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * Multi-Krum (Blanchard, El Mhamdi, Guerraoui, Stainer 2017, "Machine Learning with Adversaries: Byzantine
 * Tolerant Gradient Descent", NeurIPS, section 5): the m updates with the best Krum scores (computed once on
 * all n) are averaged, uniformly as in the paper. m = 1 is Krum; needs n > 2f + 2 and 1 ≤ m ≤ n − f.
 * Scores are computed on the weights, which equals scoring the deltas (see aggregate-krum.ts).
 */
export interface MultiKrumOptions {
  /** Number of byzantine updates f ≥ 0 to tolerate. */
  f: number;
  /** Number of updates m to average; null means n − f (the paper's choice). */
  m: number | null;
}

/** f = 0 (set it to the number of sites you distrust), m = n − f. */
export const MULTIKRUM_DEFAULTS: Readonly<MultiKrumOptions> = Object.freeze({ f: 0, m: null });

export function resolveMultiKrumOptions(options?: Partial<MultiKrumOptions>): MultiKrumOptions {
  const o = resolveOptions('multikrum', MULTIKRUM_DEFAULTS, options);
  checkByzantineCount('multikrum', o.f);
  if (o.m !== null) requireNumber('multikrum', 'm', o.m, { min: 1, integer: true });
  return o;
}

export function aggregateMultiKrum(global: WeightArrays, updates: WeightedUpdate[], options?: Partial<MultiKrumOptions>): WeightArrays {
  const { f, m: given } = resolveMultiKrumOptions(options);
  checkUpdates(global, updates);
  const n = updates.length;
  requireKrumQuorum('multikrum', n, f);
  const m = given ?? n - f;
  if (m > n - f) {
    throw new FedtuneError('config', `multikrum: m = ${m} exceeds n − f = ${n - f} (n = ${n} updates, f = ${f})`);
  }
  // Average the chosen updates in site-id order so the sum does not depend on the order they arrived in.
  const chosen = krumRanking(updates, f)
    .slice(0, m)
    .sort((a, b) => (updates[a].siteId < updates[b].siteId ? -1 : updates[a].siteId > updates[b].siteId ? 1 : a - b));
  return weightedAverage(global, chosen.map((k) => ({ weights: updates[k].weights, numExamples: 1 })));
}

export const multiKrum: Strategy<null, Partial<MultiKrumOptions>> = {
  name: 'multikrum',
  ignoresExampleCounts: true,
  reference: 'Blanchard et al. 2017, Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent (Multi-Krum)',
  initialState: (options) => {
    resolveMultiKrumOptions(options);
    return null;
  },
  aggregate: (global, updates, state, options) => ({ weights: aggregateMultiKrum(global, updates, options), state }),
  completeOptions: completeByzantineCount,
  minimumUpdates: (options) => 2 * resolveMultiKrumOptions(options).f + 3,
};
