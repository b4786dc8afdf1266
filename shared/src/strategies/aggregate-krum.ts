import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { checkUpdates } from './check-updates.ts';
import { pairwiseSquaredDistances } from './strategy-math.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { Strategy, StrategyDefaultsContext, WeightedUpdate } from './strategy.ts';

/**
 * Krum (Blanchard, El Mhamdi, Guerraoui, Stainer 2017, "Machine Learning with Adversaries: Byzantine Tolerant
 * Gradient Descent", NeurIPS). Each update is scored by the sum of its squared L2 distances to its n − f − 2
 * nearest other updates; the update with the lowest score is the new global model. Tolerates f byzantine
 * updates out of n when n > 2f + 2.
 *
 * The paper scores gradients; distances between models that share one global model equal distances between
 * their deltas (w_a − w_b = Δ_a − Δ_b), so scores are computed on the weights and the selected site's
 * weights are returned as they are. Example counts play no part (a site cannot buy selection).
 * Ties in score go to the smaller site id, so the result does not depend on the order of the updates.
 */
export interface KrumOptions {
  /** Number of byzantine updates f ≥ 0 to tolerate; needs n > 2f + 2. */
  f: number;
}

/** f = 0 as Flower's Krum (num_malicious_clients = 0): set f to the number of sites you distrust. */
export const KRUM_DEFAULTS: Readonly<KrumOptions> = Object.freeze({ f: 0 });

export function checkByzantineCount(strategy: string, f: unknown): number {
  return requireNumber(strategy, 'f', f, { min: 0, integer: true });
}

export function resolveKrumOptions(options?: Partial<KrumOptions>): KrumOptions {
  const o = resolveOptions('krum', KRUM_DEFAULTS, options);
  checkByzantineCount('krum', o.f);
  return o;
}

/** The Krum family's f: as given, else the number of malicious sites the run expects, else the default. */
export function completeByzantineCount<O extends { f?: number }>(options: O | undefined, context: StrategyDefaultsContext): O {
  const o = (options ?? {}) as O;
  if (o.f !== undefined || context.expectedMaliciousSites === undefined) return o;
  return { ...o, f: context.expectedMaliciousSites };
}

/** Throws FedtuneError('config') unless n > 2f + 2, the condition of Krum and Multi-Krum. */
export function requireKrumQuorum(strategy: string, n: number, f: number): void {
  if (n <= 2 * f + 2) {
    throw new FedtuneError('config', `${strategy}: needs more than 2f + 2 = ${2 * f + 2} updates to tolerate f = ${f} byzantine sites, got ${n}`);
  }
}

/**
 * Krum scores of the `members` (indices into the n×n distance matrix `dist`): for each member, the sum of
 * its squared distances to the max(1, |members| − f − 2) nearest other members (capped at |members| − 1).
 */
export function krumScores(dist: Float64Array, n: number, members: readonly number[], f: number): Float64Array {
  const size = members.length;
  const neighbours = Math.min(size - 1, Math.max(1, size - f - 2));
  const row = new Float64Array(Math.max(0, size - 1));
  const scores = new Float64Array(size);
  // Stryker disable next-line EqualityOperator: equivalent: one more pass only writes past the ends of `row` and `scores`, which typed arrays ignore.
  for (let a = 0; a < size; a++) {
    let r = 0;
    // Stryker disable next-line EqualityOperator: equivalent: the one extra distance is written past the end of `row`, which a typed array ignores.
    for (let b = 0; b < size; b++) if (b !== a) row[r++] = dist[members[a] * n + members[b]];
    row.sort();
    let s = 0;
    for (let j = 0; j < neighbours; j++) s += row[j];
    scores[a] = s;
  }
  return scores;
}

/** Positions 0..size−1 ordered by (score, site id): the order in which Krum prefers them. */
export function rankByScore(scores: Float64Array, siteIds: readonly string[]): number[] {
  const idx = Array.from(scores, (_, i) => i);
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: V8's sort of an array in position order compares a later position with an earlier one (a > b, in insertion and in merges alike: krum-exact.test.ts sorts 100 ties), where a − b and a + b are positive as 1 is.
  idx.sort((a, b) => scores[a] - scores[b] || (siteIds[a] < siteIds[b] ? -1 : siteIds[a] > siteIds[b] ? 1 : a - b));
  return idx;
}

/** Indices of the updates Krum ranks best to worst, scored once on all n updates. */
export function krumRanking(updates: WeightedUpdate[], f: number): number[] {
  const n = updates.length;
  const dist = pairwiseSquaredDistances(updates.map((u) => u.weights));
  const all = Array.from({ length: n }, (_, i) => i);
  return rankByScore(krumScores(dist, n, all, f), updates.map((u) => u.siteId));
}

export function aggregateKrum(global: WeightArrays, updates: WeightedUpdate[], options?: Partial<KrumOptions>): WeightArrays {
  const { f } = resolveKrumOptions(options);
  checkUpdates(global, updates);
  requireKrumQuorum('krum', updates.length, f);
  const best = krumRanking(updates, f)[0];
  return updates[best].weights.map((a) => a.slice());
}

export const krum: Strategy<null, Partial<KrumOptions>> = {
  name: 'krum',
  ignoresExampleCounts: true,
  reference: 'Blanchard et al. 2017, Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent',
  initialState: (options) => {
    resolveKrumOptions(options);
    return null;
  },
  aggregate: (global, updates, state, options) => ({ weights: aggregateKrum(global, updates, options), state }),
  completeOptions: completeByzantineCount,
  minimumUpdates: (options) => 2 * resolveKrumOptions(options).f + 3,
};
