import { z } from 'zod';
import { FedtuneError } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';

/** Most classes a run may name, and the longest class name (both bound what a peer may send). */
export const MAX_RUN_CLASSES = 1024;
export const MAX_CLASS_NAME_CHARS = 128;

/**
 * A run's class names (run config `classNames`, the signed terms, the 'model' message): class index → name,
 * the operator's order. Every site numbers its named labels by this list, so a site that lacks a class still
 * numbers the others as its peers do (docs/data.md#class-names).
 */
export const RunClassNames = z
  .array(z.string().trim().min(1).max(MAX_CLASS_NAME_CHARS))
  .min(2)
  .max(MAX_RUN_CLASSES)
  .refine((names) => new Set(names).size === names.length, { message: 'class names must be distinct' });

/** How a site's own class numbering maps onto the run's. */
export interface ClassAlignment {
  /** Site class index → run class index. */
  runIndexOf: Int32Array;
  /** The run's classes this site has no example of (in the run's order). */
  missing: string[];
}

/**
 * Maps a site's class names (index → name, as its loader numbered them) onto the run's. A name the run does
 * not know is refused with one line naming `source` (the file or folder) and the label, both clipped.
 */
export function alignClassNames(siteNames: readonly string[], runNames: readonly string[], source: string): ClassAlignment {
  const runIndex = new Map(runNames.map((name, i) => [name, i]));
  const runIndexOf = new Int32Array(siteNames.length);
  siteNames.forEach((name, i) => {
    const k = runIndex.get(name.trim());
    if (k === undefined) {
      const known = runNames.length > 12 ? `${runNames.slice(0, 12).map((n) => clipText(n, 40)).join(', ')}, … (${runNames.length} in all)` : runNames.map((n) => clipText(n, 40)).join(', ');
      throw new FedtuneError('data', `${clipText(source, 200)}: label ${JSON.stringify(clipText(name, 80))} is not a class of this run (its classes: ${known})`);
    }
    runIndexOf[i] = k;
  });
  const present = new Set(runIndexOf);
  return { runIndexOf, missing: runNames.filter((_, k) => !present.has(k)) };
}

/** `labels` (site class indices) as run class indices. */
export function alignLabels(labels: ArrayLike<number>, alignment: ClassAlignment): Int32Array {
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const k = alignment.runIndexOf[labels[i]];
    if (k === undefined) throw new FedtuneError('data', `label index ${labels[i]} has no class name (${alignment.runIndexOf.length} site classes)`);
    out[i] = k;
  }
  return out;
}
