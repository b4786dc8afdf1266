import type { TextSplits } from '../client/text-site-data.ts';
import { isMissingCell } from './encode-tabular-rows.ts';
import { balancedIndices } from './balance-classes.ts';
import type { TextDataset } from './text-dataset.ts';

/** A text with nothing to read: empty or blank, or a missing-value marker (NA, N/A, NaN, null, ?), as a CSV cell is. */
export const isMissingText = (text: string): boolean => isMissingCell(text);

/** `--impute` on text data: texts that are missing are dropped (nothing to fill a text with); how many. */
export function dropMissingTexts(data: TextDataset): { text: TextDataset; dropped: number } {
  const keep: number[] = [];
  data.texts.forEach((t, i) => {
    if (!isMissingText(t)) keep.push(i);
  });
  return { text: { texts: keep.map((i) => data.texts[i]!), labels: Int32Array.from(keep, (i) => data.labels[i]!), classNames: data.classNames }, dropped: data.texts.length - keep.length };
}

/** `--class-weights balanced` on texts: the train split resampled exactly as balanceClasses resamples examples (validation and test as they are). */
export function balanceTextSplits(splits: TextSplits, seed: number): TextSplits {
  const picks = balancedIndices(splits.train.labels, seed);
  if (!picks) return splits;
  const train = splits.train;
  return { ...splits, train: { texts: picks.map((i) => train.texts[i]!), labels: Int32Array.from(picks, (i) => train.labels[i]!), classNames: train.classNames } };
}
