import { digitsSiteDatasets, digitsSplits, type DigitsSplits, type DigitsSitesOptions } from '../data/digits-task.ts';
import type { Dataset } from '../data/dataset.ts';
import { loadAllDigits } from './load-digits.ts';

let splits: DigitsSplits | undefined;

/** The built-in digits task's fixed splits (source, holdout, pool), computed once per process. */
export function builtinDigits(): DigitsSplits {
  splits ??= digitsSplits(loadAllDigits());
  return splits;
}

/** The built-in task's site datasets for a federation of `sites` sites. */
export function builtinDigitsSites(options: DigitsSitesOptions): Dataset[] {
  return digitsSiteDatasets(builtinDigits().pool, options);
}
