import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { labelAboveClassLimit, MAX_CLASSES } from './class-limit.ts';
import type { Dataset } from './dataset.ts';

/** Marks the error for an empty feature cell (readNumericCsv falls back on its full reader, which counts them or imputes). */
export const MISSING_VALUE = 'a missing value';

export interface CsvOptions {
  labelColumn?: string;
  /** Number of classes; default: max label + 1. */
  numClasses?: number;
  /** Name of the source, for error messages. */
  source?: string;
}

/**
 * Parses labeled examples from CSV text: a header row, an integer `label` column (name configurable), every
 * other column numeric. Works in Node and in the browser. Errors name the row and column.
 */
export function parseCsvDataset(text: string, options: CsvOptions = {}): Dataset {
  const source = options.source ?? 'CSV';
  const labelColumn = options.labelColumn ?? 'label';
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new FedtuneError('data', `${source}: needs a header row and at least one example`);
  const header = lines[0].split(',').map((h) => h.trim().replace(/^"|"$/g, ''));
  const labelIndex = header.indexOf(labelColumn);
  if (labelIndex < 0) throw new FedtuneError('data', `${source}: no "${labelColumn}" column in the header`);
  const f = header.length - 1;
  if (f < 1) throw new FedtuneError('data', `${source}: no feature columns`);
  const n = lines.length - 1;
  const x = new Float32Array(n * f);
  const y = new Int32Array(n);
  let maxLabel = 0;
  for (let r = 0; r < n; r++) {
    const cells = lines[r + 1].split(',');
    if (cells.length !== header.length) {
      throw new FedtuneError('data', `${source}: row ${r + 2} has ${cells.length} cells, the header has ${header.length}`);
    }
    let j = 0;
    for (let c = 0; c < cells.length; c++) {
      const v = Number(cells[c]);
      if (c === labelIndex) {
        if (!Number.isInteger(v) || v < 0) throw new FedtuneError('data', `${source}: row ${r + 2}: label ${quoteClipped(cells[c])} is not a non-negative integer`);
        if (v >= MAX_CLASSES) throw labelAboveClassLimit(source, r + 2, v);
        y[r] = v;
        if (v > maxLabel) maxLabel = v;
      } else {
        if (!Number.isFinite(v) || cells[c].trim() === '') {
          throw new FedtuneError('data', `${source}: row ${r + 2}, column ${quoteClipped(header[c])}: ${quoteClipped(cells[c])} is not a number${cells[c].trim() === '' ? ` (${MISSING_VALUE})` : ''}`);
        }
        x[r * f + j++] = v;
      }
    }
  }
  const numClasses = options.numClasses ?? maxLabel + 1;
  if (maxLabel >= numClasses) throw new FedtuneError('data', `${source}: label ${maxLabel} is outside 0..${numClasses - 1}`);
  return { x, y, featureShape: [f], numClasses };
}
