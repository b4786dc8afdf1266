import { FedtuneError } from '../errors.ts';

/**
 * Splits CSV text into rows of cells (RFC 4180: commas, CRLF or LF line ends, double-quoted cells that may
 * hold commas, line breaks and "" for a quote). Blank lines are skipped. `source` names the file in errors.
 */
export function parseCsvRows(text: string, source = 'the CSV'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let i = 0;
  const endRow = () => {
    row.push(cell);
    cell = '';
    if (!(row.length === 1 && row[0].trim() === '')) rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n') {
      if (cell.endsWith('\r')) cell = cell.slice(0, -1);
      endRow();
      line++;
    } else cell += ch;
    i++;
  }
  if (quoted) throw new FedtuneError('data', `${source}: a quoted cell opened before line ${line} is never closed`);
  if (cell !== '' || row.length) {
    if (cell.endsWith('\r')) cell = cell.slice(0, -1);
    endRow();
  }
  return rows;
}
