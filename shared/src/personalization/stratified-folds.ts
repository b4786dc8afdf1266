import { FedtuneError } from '../errors.ts';
import { SeededRandom } from '../random/seeded-random.ts';

/**
 * Assigns every example to one of `k` folds, stratified by class: the examples of each class are shuffled
 * (seeded) and dealt round-robin, continuing the deal from one class to the next, so every class's count
 * differs by at most 1 between folds and so do the folds' sizes. Returns each example's fold in [0, k).
 * `k` must be an integer ≥ 2 and at most the number of examples (else a `config` error: a fold would be empty).
 */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, seed: number): Int32Array {
  const n = labels.length;
  if (!Number.isInteger(k) || k < 2) throw new FedtuneError('config', `cross-validation needs at least 2 folds (got ${k})`);
  if (k > n) throw new FedtuneError('data', `${k}-fold cross-validation needs at least ${k} examples (the site has ${n})`);
  const byClass = new Map<number, number[]>();
  // Stryker disable next-line EqualityOperator: equivalent: labels[n] is undefined, a class sort() puts last, and its one deal lands past the folds' end.
  for (let i = 0; i < n; i++) {
    const members = byClass.get(labels[i]);
    if (members) members.push(i);
    else byClass.set(labels[i], [i]);
  }
  const rng = new SeededRandom(seed);
  const folds = new Int32Array(n);
  let dealt = 0;
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    for (const i of rng.shuffle(byClass.get(label)!)) folds[i] = dealt++ % k;
  }
  return folds;
}

/** The indices of the examples in fold `fold` (`held: true`) or in every other fold (`held: false`), in order. */
export function foldIndices(folds: Int32Array, fold: number, held: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < folds.length; i++) if ((folds[i] === fold) === held) out.push(i);
  return out;
}
