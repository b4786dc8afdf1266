import { FedtuneError } from '../errors.ts';

/**
 * Most classes a dataset may have (labels 0..MAX_CLASSES − 1). Every per-class table (counts, the data check,
 * the model's output layer) is sized by the largest label, so one row labelled 1000000000 in a site's CSV
 * would otherwise ask for a billion-entry table and kill the process; 65,536 is far above real tasks.
 */
export const MAX_CLASSES = 65_536;

/** FedtuneError('data') for a label at or above MAX_CLASSES, naming where it is. */
export function labelAboveClassLimit(source: string, row: number, label: number): FedtuneError {
  return new FedtuneError('data', `${source}: row ${row}: label ${label} is too large: at most ${MAX_CLASSES} classes are supported (labels 0..${MAX_CLASSES - 1})`);
}

/** Throws FedtuneError('data') when `count` classes (distinct label names, class folders) exceed MAX_CLASSES. */
export function checkClassCount(source: string, count: number, what: string): void {
  if (count > MAX_CLASSES) throw new FedtuneError('data', `${source}: ${count} ${what}: at most ${MAX_CLASSES} classes are supported`);
}
