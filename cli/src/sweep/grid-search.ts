import { FedtuneError } from '@fedtune/shared';
import { isRange, type ParamValue, type SearchSpace } from './search-space.ts';

/** One point of a search space: a value for every parameter. */
export type TrialParams = Record<string, ParamValue>;

/** The most trials a grid may hold (a typo like 1000 values × 1000 values is refused, not run). */
export const MAX_GRID_TRIALS = 10_000;

/**
 * Every combination of the space's values, in a fixed order: parameters in the space's key order, the last
 * parameter varying fastest (as nested loops). Ranges have no grid: they need random search.
 */
export function gridTrials(space: SearchSpace): TrialParams[] {
  const keys = Object.keys(space);
  let size = 1;
  for (const key of keys) {
    const spec = space[key];
    if (isRange(spec)) throw new FedtuneError('config', `sweep parameter ${key} is a range: grid search needs a list of values (or use --search random)`);
    size *= spec.length;
  }
  if (size > MAX_GRID_TRIALS) throw new FedtuneError('config', `the grid has ${size} trials (more than ${MAX_GRID_TRIALS}): use --search random --trials N`);
  let trials: TrialParams[] = [{}];
  for (const key of keys) {
    const values = space[key] as ParamValue[];
    trials = trials.flatMap((t) => values.map((v) => ({ ...t, [key]: v })));
  }
  return trials;
}
