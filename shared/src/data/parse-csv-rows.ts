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
  // Stryker disable next-line EqualityOperator: equivalent: at i = n both branches add nothing and stop.
  while (i < n) {
    if (quoted) {
      const q = text.indexOf('"', i);
      // Stryker disable next-line EqualityOperator: equivalent: q = 0 would need a quoted cell open at the first character.

      const stop = q < 0 ? n : q;
      // Stryker disable next-line EqualityOperator: equivalent: no line break at 0 (a quote is before it) or at stop (a quote, or the end).
      for (let nl = text.indexOf('\n', i); nl >= 0 && nl < stop; nl = text.indexOf('\n', nl + 1)) line++;
      cell += text.slice(i, stop);
      // Stryker disable next-line EqualityOperator: equivalent: q = 0 would need a quoted cell open at the first character.
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
    // Stryker disable next-line EqualityOperator: equivalent: charCodeAt(n) is NaN, no delimiter; the end is handled below either way.
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x2c || c === 0x0a || c === 0x22) break;
      j++;
    }
    cell += text.slice(i, j);
    // Stryker disable next-line ConditionalExpression: equivalent: without it the end would be read as a line end, which endRow below also gives.
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
  // The last line, if it has no line end (endRow drops a blank one).
  if (cell.endsWith('\r')) cell = cell.slice(0, -1);
  endRow();
  return rows;
}
