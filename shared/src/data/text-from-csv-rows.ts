import { FedtuneError } from '../errors.ts';
import type { TextDataset } from './text-dataset.ts';
import { encodeLabels } from './encode-labels.ts';
import { columnIndex } from './encode-tabular-rows.ts';

/** A TextDataset from CSV rows (the first is the header): the text of `textColumn`, the class of `labelColumn`. */
export function textFromCsvRows(rows: string[][], options: { textColumn: string; labelColumn: string; source?: string }): TextDataset {
  const source = options.source ?? 'the CSV';
  if (rows.length < 2) throw new FedtuneError('data', `${source}: needs a header row and at least one example`);
  const header = rows[0].map((h) => h.trim());
  const textIndex = columnIndex(header, options.textColumn, source, 'named by --text-column');
  const labelIndex = columnIndex(header, options.labelColumn, source, 'the label column; --label-column names another');
  const body = rows.slice(1);
  body.forEach((row, r) => {
    if (row.length !== header.length) throw new FedtuneError('data', `${source}: row ${r + 2} has ${row.length} cells, the header has ${header.length}`);
  });
  const { labels, numClasses, classNames } = encodeLabels(body.map((row) => row[labelIndex]), source, 2);
  return { texts: body.map((row) => row[textIndex]), labels, classNames: classNames ?? Array.from({ length: numClasses }, (_, k) => String(k)) };
}
