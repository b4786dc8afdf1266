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
  const n = text.length;
  // Runs of ordinary characters are sliced, not appended one by one: a cell of many megabytes costs one copy.
  while (i < n) {
    if (quoted) {
      const q = text.indexOf('"', i);
      const stop = q < 0 ? n : q;
      for (let nl = text.indexOf('\n', i); nl >= 0 && nl < stop; nl = text.indexOf('\n', nl + 1)) line++;
      cell += text.slice(i, stop);
      if (q < 0) break;
      if (text[q + 1] === '"') {
        cell += '"';
        i = q + 2;
        continue;
      }
      quoted = false;
      i = q + 1;
      continue;
    }
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x2c || c === 0x0a || c === 0x22) break;
      j++;
    }
    cell += text.slice(i, j);
    if (j === n) break;
    const ch = text[j];
    if (ch === '"') {
      if (cell.trim() === '') {
        quoted = true;
        cell = '';
      } else cell += ch;
    } else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else {
      if (cell.endsWith('\r')) cell = cell.slice(0, -1);
      endRow();
      line++;
    }
    i = j + 1;
  }
  if (quoted) throw new FedtuneError('data', `${source}: a quoted cell opened before line ${line} is never closed`);
  if (cell !== '' || row.length) {
    if (cell.endsWith('\r')) cell = cell.slice(0, -1);
    endRow();
  }
  return rows;
}
