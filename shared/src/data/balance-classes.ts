import { subset, type Dataset } from './dataset.ts';
import { SeededRandom } from '../random/seeded-random.ts';

/**
 * Class weighting by resampling ("--class-weights balanced"): the same number of examples as `ds`, drawn so
 * that every class present gets an equal share (the remainder to the first classes). Each class's examples
 * are taken in a seeded shuffled order and cycled: a small class repeats, a large one is subsampled. The
 * site's example count (its FedAvg weight) is unchanged, so balancing does not weigh the site more.
 */
export function balanceClasses(ds: Dataset, seed: number): Dataset {
  const picks = balancedIndices(ds.y, seed);
  return picks ? subset(ds, picks) : ds;
}

/** The example indices balanceClasses picks for these labels (texts use the same: balance-texts.ts); undefined with fewer than 2 classes. */
export function balancedIndices(labels: ArrayLike<number>, seed: number): number[] | undefined {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]!) ?? [];
    list.push(i);
    byClass.set(labels[i]!, list);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  if (classes.length < 2) return undefined;
  const random = new SeededRandom(seed);
  const n = labels.length;
  const picks: number[] = [];
  classes.forEach((k, c) => {
    const order = random.shuffle([...byClass.get(k)!]);
    const share = Math.floor(n / classes.length) + (c < n % classes.length ? 1 : 0);
    for (let t = 0; t < share; t++) picks.push(order[t % order.length]);
  });
  return random.shuffle(picks);
}
