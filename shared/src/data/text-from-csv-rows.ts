import { FedtuneError } from '../errors.ts';
import type { TextDataset } from './text-dataset.ts';
import { encodeLabels } from './encode-labels.ts';
import { columnIndex } from './encode-tabular-rows.ts';

/** How errors name the text- and label-column settings (default: the `fedtune client` flags). */
export const CLI_TEXT_SETTING_NAMES = Object.freeze({ textColumn: '--text-column', labelColumn: '--label-column' });

/** A TextDataset from CSV rows (the first is the header): the text of `textColumn`, the class of `labelColumn`. Errors name the settings by `settingNames`. */
export function textFromCsvRows(rows: string[][], options: { textColumn: string; labelColumn: string; source?: string; settingNames?: { textColumn: string; labelColumn: string } }): TextDataset {
  const names = options.settingNames ?? CLI_TEXT_SETTING_NAMES;
  const source = options.source ?? 'the CSV';
  if (rows.length < 2) throw new FedtuneError('data', `${source}: needs a header row and at least one example`);
  const header = rows[0].map((h) => h.trim());
  const textIndex = columnIndex(header, options.textColumn, source, `named by ${names.textColumn}`);
  const labelIndex = columnIndex(header, options.labelColumn, source, `the label column; ${names.labelColumn} names another`);
  const body = rows.slice(1);
  body.forEach((row, r) => {
    if (row.length !== header.length) throw new FedtuneError('data', `${source}: row ${r + 2} has ${row.length} cells, the header has ${header.length}`);
  });
  const { labels, numClasses, classNames } = encodeLabels(body.map((row) => row[labelIndex]), source, 2);
  return { texts: body.map((row) => row[textIndex]), labels, classNames: classNames ?? Array.from({ length: numClasses }, (_, k) => String(k)) };
}
