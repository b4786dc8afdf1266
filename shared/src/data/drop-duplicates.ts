import { duplicateIndices } from './check-dataset.ts';
import { subset, type Dataset } from './dataset.ts';

/** The dataset without exact duplicates (same features and label as an earlier example), first copies kept in order, and how many were dropped. */
export function dropDuplicates(ds: Dataset): { dataset: Dataset; dropped: number } {
  const drop = new Set(duplicateIndices(ds));
  if (drop.size === 0) return { dataset: ds, dropped: 0 };
  const keep: number[] = [];
  for (let i = 0; i < ds.y.length; i++) if (!drop.has(i)) keep.push(i);
  return { dataset: subset(ds, keep), dropped: drop.size };
}
