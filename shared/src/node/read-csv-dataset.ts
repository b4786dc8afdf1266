import { closeSync, openSync, readSync } from 'node:fs';
import type { Dataset } from '../data/dataset.ts';
import { parseCsvRows } from '../data/parse-csv-rows.ts';
import { MISSING_VALUE } from '../data/parse-csv-dataset.ts';
import { FedtuneError } from '../errors.ts';
import { labelAboveClassLimit, MAX_CLASSES } from '../data/class-limit.ts';
import { checkInputFile } from './read-input-file.ts';
import { quoteClipped } from '../text/clip-text.ts';

export interface ReadCsvOptions {
  labelColumn?: string;
  numClasses?: number;
  /** Bytes read from the file at a time (default 1 MiB). */
  chunkBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Feature values the first allocation holds at most (4 MiB of floats): a wide file's rows start fewer. */
const INITIAL_VALUES = 1 << 20;
/** 10^0 … 10^15, each an exact double: the divisors of a plain decimal's digits (plainDecimal). */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const COMMA = 0x2c;
const QUOTE = 0x22;
/** What this streaming reader refuses and `readNumericCsv` (or the site's loader) reads with the RFC 4180 parser. */
export const QUOTED_CELLS = 'quoted cells';
const NEWLINE = 0x0a;
const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);
const utf8 = new TextDecoder();

/**
 * The number an ASCII cell `bytes[start, end)` holds, exactly as `Number(text)`, or NaN: its `plainDecimal`
 * value when it has one, else Number() of its text (exponents, hex, Infinity, more digits).
 */
export function cellNumber(bytes: Uint8Array, start: number, end: number): number {
  return plainDecimal(bytes, start, end) ?? Number(latin1(bytes, start, end));
}

/**
 * The value of a plain decimal cell `bytes[start, end)` — an optional sign, at most 15 digits with at most one
 * point, whitespace around — computed from its digits, or undefined for any other cell (cellNumber hands those
 * to Number()). 15 digits are an exact integer and 10^(digits after the point) an exact double, so the one
 * division is correctly rounded: bit-identical to Number(), about twice as fast. A blank cell is 0, as
 * Number('') and Number('  ').
 */
export function plainDecimal(bytes: Uint8Array, start: number, end: number): number | undefined {
  let i = start;
  let j = end;
  while (i < j && isSpace(bytes[i])) i++;
  while (j > i && isSpace(bytes[j - 1])) j--;
  if (i === j) return 0;
  let k = i;
  const negative = bytes[k] === 0x2d;
  if (negative || bytes[k] === 0x2b) k++;
  let mantissa = 0;
  let digits = 0;
  let point = false;
  let scale = 0; // digits after the point
  for (; k < j; k++) {
    const b = bytes[k];
    if (b >= 0x30 && b <= 0x39) {
      mantissa = mantissa * 10 + (b - 0x30);
      digits++;
      if (point) scale++;
    } else if (b === 0x2e && !point) point = true;
    else return undefined;
  }
  if (digits === 0 || digits > 15) return undefined;
  const value = mantissa / POW10[scale];
  return negative ? -value : value;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Whether `bytes[start, end)` is blank (only whitespace), as `line.trim() === ''` for ASCII. */
function blank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isSpace(bytes[i])) return false;
  return true;
}

/** Rows parsed so far, in arrays that grow by doubling. */
class Rows {
  x: Float32Array;
  y: Int32Array;
  n = 0;
  constructor(readonly f: number) {
    // 1,024 rows to start with, fewer when they are wide: 1,024 × f floats of a 5-million-column header would be
    // more than a typed array may hold (2^32), and a few gigabytes for one row.
    // Stryker disable next-line MethodExpression,ArithmeticOperator: the capacity shows in memory only, or past 4 million columns (tests/site-data/csv-wide-header.test.ts, too slow under Stryker's instrumentation: not in this module's tests).
    const capacity = Math.max(1, Math.min(1024, Math.floor(INITIAL_VALUES / f)));
    this.x = new Float32Array(capacity * f);
    this.y = new Int32Array(capacity);
  }
  grow(): void {
    const x = new Float32Array(this.x.length * 2);
    x.set(this.x);
    this.x = x;
    const y = new Int32Array(this.y.length * 2);
    y.set(this.y);
    this.y = y;
  }
}

/**
 * Reads a CSV file of labeled examples from disk, with the format, the values and the errors of
 * `parseCsvDataset` (tests/read-csv-dataset-stream.test.ts compares them), but streamed: the file is read in
 * chunks and parsed from its bytes straight into the Float32Array, without holding its text, its lines
 * and their cells at once (a 5.5 MB site CSV: ~30 MB less peak memory and about half the time). A line
 * with non-ASCII bytes is decoded and parsed as text.
 */
export function readCsvDataset(path: string, options: ReadCsvOptions = {}): Dataset {
  const source = path;
  const labelColumn = options.labelColumn ?? 'label';
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new FedtuneError('config', `chunkBytes must be a positive integer, got ${chunkBytes}`);
  checkInputFile(path, { what: 'CSV dataset', code: 'data' }); // not a pipe or device: reading one never ends
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new FedtuneError('data', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let header: string[] | undefined;
  let labelIndex: number; // set with the header's check (checkHeader), before any row is stored
  // Numbered as every refusal here numbers rows: the header is row 1, blank lines are not counted.
  const quotedCells = (row: number) => new FedtuneError('data', `${source}: row ${row} has ${QUOTED_CELLS}`);
  let rows: Rows | undefined;
  let maxLabel = 0;

  // The header is checked when the first example arrives, as parseCsvDataset checks it after counting lines.
  const checkHeader = (): Rows => {
    if (rows) return rows;
    labelIndex = header!.indexOf(labelColumn);
    if (labelIndex < 0) throw new FedtuneError('data', `${source}: no "${labelColumn}" column in the header`);
    if (header!.length - 1 < 1) throw new FedtuneError('data', `${source}: no feature columns`);
    return (rows = new Rows(header!.length - 1));
  };

  // `line` has taken a line's '\r' off before it hands the line over.
  const textLine = (line: string): void => {
    if (line.trim() === '') return;
    if (!header) {
      // The header is read as RFC 4180 (R and pandas quote every name): a quoted name may hold a comma or a
      // quote ("" in it), and loses only its enclosing quotes. A line of one empty quoted name is blank to it.
      const names = parseCsvRows(line, source)[0];
      if (names) header = names.map((h) => h.trim());
      return;
    }
    if (line.includes('"')) throw quotedCells(rows ? rows.n + 2 : 2);
    const cells = line.split(',');
    const row = startRow(cells.length);
    let j = 0;
    for (let c = 0; c < cells.length; c++) {
      store(row, c, j, Number(cells[c]), () => cells[c]);
      if (c !== labelIndex) j++;
    }
  };
  const startRow = (cells: number): number => {
    const r = checkHeader();
    if (cells !== header!.length) throw new FedtuneError('data', `${source}: row ${r.n + 2} has ${cells} cells, the header has ${header!.length}`);
    if (r.n === r.y.length) r.grow();
    return r.n++;
  };
  const store = (row: number, c: number, j: number, v: number, text: () => string): void => {
    const r = rows!;
    if (c === labelIndex) {
      if (!Number.isInteger(v) || v < 0) throw new FedtuneError('data', `${source}: row ${row + 2}: label ${quoteClipped(text())} is not a non-negative integer`);
      if (v >= MAX_CLASSES) throw labelAboveClassLimit(source, row + 2, v);
      r.y[row] = v;
      maxLabel = Math.max(maxLabel, v);
    } else {
      if (!Number.isFinite(v) || text().trim() === '') throw new FedtuneError('data', `${source}: row ${row + 2}, column ${quoteClipped(header![c])}: ${quoteClipped(text())} is not a number${text().trim() === '' ? ` (${MISSING_VALUE})` : ''}`);
      r.x[row * r.f + j] = v;
    }
  };
  const countCells = (bytes: Uint8Array, start: number, end: number): number => {
    let cells = 1;
    for (let i = start; i < end; i++) if (bytes[i] === COMMA) cells++;
    return cells;
  };
  // One pass per line: each cell is parsed where it lies; a value error is reported only after the line's
  // cell count is known to be right (parseCsvDataset checks the count first).
  const line = (bytes: Uint8Array, start: number, end: number): void => {
    // An empty line (end = start) has no '\r' before it to take: the previous line's '\n' is, or nothing (at 0).
    if (bytes[end - 1] === 0x0d) end--;
    // Stryker disable next-line ConditionalExpression: equivalent: the text path reads every line as this one does, only slower.
    if (!header) return textLine(utf8.decode(bytes.subarray(start, end)));
    for (let i = start; i < end; i++) {
      // Stryker disable next-line ConditionalExpression: equivalent: the text path reads every line as this one does, only slower.
      if (bytes[i] >= 0x80) return textLine(utf8.decode(bytes.subarray(start, end)));
      if (bytes[i] === QUOTE) throw quotedCells(rows ? rows.n + 2 : 2);
    }
    if (blank(bytes, start, end)) return;
    const r = checkHeader();
    const width = header.length;
    if (r.n === r.y.length) r.grow();
    const row = r.n;
    const x = r.x;
    let offset = row * r.f;
    let cellStart = start;
    for (let c = 0; c < width; c++) {
      let cellEnd = cellStart;
      while (cellEnd < end && bytes[cellEnd] !== COMMA) cellEnd++;
      // Stryker disable next-line ConditionalExpression: equivalent: the missing cells would read as blank, and the row is refused for its cell count all the same.
      if (cellEnd === end && c < width - 1) break; // too few cells: counted below
      const v = cellNumber(bytes, cellStart, cellEnd);
      if (c === labelIndex) {
        if (!Number.isInteger(v) || v < 0 || v >= MAX_CLASSES) {
          startRow(countCells(bytes, start, end));
          store(row, c, 0, v, () => latin1(bytes, cellStart, cellEnd));
        }
        r.y[row] = v;
        maxLabel = Math.max(maxLabel, v);
      } else {
        if (!Number.isFinite(v) || blank(bytes, cellStart, cellEnd)) {
          startRow(countCells(bytes, start, end));
          const from = cellStart;
          store(row, c, 0, v, () => latin1(bytes, from, cellEnd));
        }
        x[offset++] = v;
      }
      cellStart = cellEnd + 1;
    }
    if (cellStart !== end + 1) startRow(countCells(bytes, start, end)); // throws: not `width` cells
    r.n++;
  };

  try {
    let buffer = new Uint8Array(chunkBytes);
    let filled = 0; // bytes in buffer, from the start of the current (incomplete) line
    for (;;) {
      // Stryker disable next-line ConditionalExpression: equivalent: a buffer grown on every read holds the same lines, in more memory.
      if (filled === buffer.length) {
        const bigger = new Uint8Array(buffer.length * 2); // a line longer than the buffer
        bigger.set(buffer);
        buffer = bigger;
      }
      let read: number;
      try {
        read = readSync(fd, buffer, filled, buffer.length - filled, null);
      } catch (cause) {
        throw new FedtuneError('data', `cannot read ${path}: ${(cause as Error).message}`, { cause });
      }
      if (read === 0) break;
      const end = filled + read;
      let lineStart = 0;
      for (let i = filled; i < end; i++) {
        if (buffer[i] === NEWLINE) {
          line(buffer, lineStart, i);
          lineStart = i + 1;
        }
      }
      buffer.copyWithin(0, lineStart, end);
      filled = end - lineStart;
    }
    line(buffer, 0, filled); // the last line, without a '\n' (empty, and so skipped, when the file ends with one)
  } finally {
    closeSync(fd);
  }
  // Rows are made for the first example, and an example refused ends the read: rows, if made, hold one.
  if (!rows) throw new FedtuneError('data', `${source}: needs a header row and at least one example`);
  const numClasses = options.numClasses ?? maxLabel + 1;
  if (maxLabel >= numClasses) throw new FedtuneError('data', `${source}: label ${maxLabel} is outside 0..${numClasses - 1}`);
  return { x: rows.x.slice(0, rows.n * rows.f), y: rows.y.slice(0, rows.n), featureShape: [rows.f], numClasses };
}
