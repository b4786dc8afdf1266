import type { SiteDataOptions } from '@fedtune/shared';

/**
 * What --drop-duplicates, --impute and --class-weights did or will do to a site's data, as the data check
 * shows it (lines, or the `preparation` field of the JSON check). Counts only, never a value from the data.
 */
export interface DataPreparation {
  /** --drop-duplicates: exact duplicates dropped (duplicate texts for text data), and the examples left. */
  duplicates?: { dropped: number; left: number };
  /** --impute on features: the missing values (and the examples holding them) filled at join, fitted on the train split. */
  imputed?: { method: 'mean' | 'median' | 'zero'; values: number; examples: number };
  /** --impute on texts: the empty or missing texts dropped (nothing to fill a text with), and the texts left. */
  missingTextsDropped?: { dropped: number; left: number };
  /**
   * --class-weights balanced: the train split is resampled to equal class shares at join. Shown over all the
   * data: each class's count, its count after resampling, and its weight (resampled / count; 0 for an empty class).
   */
  classWeights?: { mode: 'balanced'; counts: number[]; resampled: number[]; weights: number[] };
}

/** Per-class counts of `labels` over `classes` classes. */
export function countLabels(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]++;
  return counts;
}

/**
 * The class weights `--class-weights balanced` uses for these counts: the resampling (balancedIndices) gives
 * every class present an equal share of the same total (the remainder to the first classes).
 */
export function balancedClassWeights(counts: number[]): DataPreparation['classWeights'] {
  const total = counts.reduce((a, b) => a + b, 0);
  const present = counts.map((c, k) => (c > 0 ? k : -1)).filter((k) => k >= 0);
  const resampled = counts.map(() => 0);
  if (present.length >= 2) present.forEach((k, c) => (resampled[k] = Math.floor(total / present.length) + (c < total % present.length ? 1 : 0)));
  else present.forEach((k) => (resampled[k] = counts[k]!));
  const weights = counts.map((c, k) => (c > 0 ? Number((resampled[k]! / c).toFixed(3)) : 0));
  return { mode: 'balanced', counts, resampled, weights };
}

/** Missing values (NaN) in a flat feature array of `features` per example: how many, in how many examples. */
export function countMissing(x: ArrayLike<number>, features: number): { values: number; examples: number } {
  let values = 0;
  let examples = 0;
  for (let i = 0; features > 0 && i < x.length / features; i++) {
    let here = 0;
    for (let j = 0; j < features; j++) if (Number.isNaN(x[i * features + j])) here++;
    values += here;
    if (here > 0) examples++;
  }
  return { values, examples };
}

/** The data check's lines for a preparation (one per option given). */
export function formatDataPreparation(prep: DataPreparation, options: Pick<SiteDataOptions, 'impute'>, text = false): string[] {
  const lines: string[] = [];
  const what = text ? 'texts' : 'examples';
  if (prep.duplicates) lines.push(`--drop-duplicates: dropped ${prep.duplicates.dropped} duplicate ${what}: ${prep.duplicates.left} left`);
  if (prep.missingTextsDropped) lines.push(`--impute ${options.impute}: dropped ${prep.missingTextsDropped.dropped} empty or missing texts (there is nothing to fill a text with): ${prep.missingTextsDropped.left} left`);
  const i = prep.imputed;
  if (i) lines.push(i.values === 0 ? `--impute ${i.method}: no missing values to fill` : `--impute ${i.method}: fills ${i.values} missing values in ${i.examples} examples with each feature's ${i.method === 'zero' ? 'zero' : `${i.method} over the train split`} when the site joins`);
  const w = prep.classWeights;
  if (w) lines.push(`--class-weights balanced: the train split is resampled to equal class shares when the site joins; over all the data, per class ${JSON.stringify(w.counts)} → ${JSON.stringify(w.resampled)} ${what}, class weights ${JSON.stringify(w.weights)}`);
  return lines;
}
