import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { checkClassCount, labelAboveClassLimit, MAX_CLASSES } from './class-limit.ts';

/** A decimal number as a CSV cell spells one: `3`, `-1`, `2.5`, `.5`, `1e3`. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Class order for label names: numeric-aware sort ("2" before "10"), the same on every site. */
export function sortClassNames(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * Class indices for a label column: if every cell is a non-negative integer, the integers themselves
 * (no class names); if every cell is a number but one is not a non-negative integer (`2.5`, `-1`), an error
 * naming its row; otherwise the sorted distinct names, each label its name's index. An empty label cell is
 * an error naming its row (`firstRow` is the row number of `cells[0]` in the file).
 */
export function encodeLabels(cells: string[], source: string, firstRow: number): { labels: Int32Array; numClasses: number; classNames?: string[] } {
  const trimmed = cells.map((c) => c.trim());
  const empty = trimmed.findIndex((c) => c === '');
  if (empty >= 0) throw new FedtuneError('data', `${source}: row ${empty + firstRow} has no label`);
  if (trimmed.every((c) => /^\d{1,9}$/.test(c))) {
    const labels = Int32Array.from(trimmed, Number);
    const tooLarge = labels.findIndex((v) => v >= MAX_CLASSES);
    if (tooLarge >= 0) throw labelAboveClassLimit(source, tooLarge + firstRow, labels[tooLarge]);
    return { labels, numClasses: labels.reduce((m, v) => Math.max(m, v), -1) + 1 };
  }
  // A column of numbers is integer labels with a typo, not names: sorting them as names would silently
  // renumber every class above the odd one (one "2.5" among 0–9 made 3 train as 4, 4 as 5, …).
  if (trimmed.every((c) => NUMBER.test(c))) {
    const odd = trimmed.findIndex((c) => !/^\d{1,9}$/.test(c));
    if (/^\d+$/.test(trimmed[odd]!)) throw labelAboveClassLimit(source, odd + firstRow, Number(trimmed[odd]));
    throw new FedtuneError('data', `${source}: row ${odd + firstRow}: label ${quoteClipped(trimmed[odd]!)} is not a non-negative integer (the other labels are numbers: integer labels are the class indices; names must not all be numbers)`);
  }
  const classNames = sortClassNames(trimmed);
  checkClassCount(source, classNames.length, 'distinct labels');
  const index = new Map(classNames.map((name, i) => [name, i]));
  return { labels: Int32Array.from(trimmed, (c) => index.get(c)!), numClasses: classNames.length, classNames };
}
