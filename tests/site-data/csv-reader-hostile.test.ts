import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCsvDataset } from '../../shared/src/node/read-csv-dataset.ts';
import { parseCsvDataset } from '../../shared/src/data/parse-csv-dataset.ts';
import { thrown } from '../helpers/thrown.ts';

// The streaming CSV reader on malformed and hostile files (mutation module site-data): a header of one empty quoted
// name, names holding quotes, quoted cells numbered as rows, bytes that are not UTF-8, a line of non-ASCII blanks,
// files the system cannot open or read, and the descriptor closed whatever the outcome.
const work = mkdtempSync(join(tmpdir(), 'fedtune-csv-hostile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let files = 0;
const write = (content: string | Buffer) => {
  const path = join(work, `f${files++}.csv`);
  writeFileSync(path, content);
  return path;
};
/** The code and message readCsvDataset refuses the file with, the same at every chunk size. */
const refusal = (path: string) => {
  const outcomes = [1, 5, undefined].map((chunkBytes) => {
    const err = thrown(() => readCsvDataset(path, { chunkBytes }));
    return { code: err.code, message: err.message };
  });
  expect(outcomes[1]).toEqual(outcomes[0]);
  expect(outcomes[2]).toEqual(outcomes[0]);
  return outcomes[0];
};
const plain = (d: { x: Float32Array; y: Int32Array; featureShape: number[]; numClasses: number }) => ({ x: Array.from(d.x), y: Array.from(d.y), featureShape: d.featureShape, numClasses: d.numClasses });

describe('the header', () => {
  it('a first line of one empty quoted name is blank, as the RFC 4180 reader has it: the next line is the header', () => {
    const path = write('""\n label ,a\n1,2\n');
    expect(plain(readCsvDataset(path))).toEqual({ x: [2], y: [1], featureShape: [1], numClasses: 2 });
    expect(refusal(write(' "" \n1,2\n'))).toEqual({ code: 'data', message: `${join(work, `f${files - 1}.csv`)}: needs a header row and at least one example` });
  });

  it('a quoted name keeps the quotes inside it ("" for one) and loses only the enclosing ones', () => {
    const path = write('label,"say ""hi""",""""\n1,x,2\n');
    expect(refusal(path)).toEqual({ code: 'data', message: `${path}: row 2, column "say \\"hi\\"": "x" is not a number` });
    const second = write('label,"a,b",""""\n1,2,x\n');
    expect(refusal(second)).toEqual({ code: 'data', message: `${second}: row 2, column "\\"": "x" is not a number` });
  });
});

describe('cells the reader refuses or skips', () => {
  it('quoted cells: the row numbered as every refusal numbers it (blank lines not counted), on both paths', () => {
    const first = write('label,a\n"1",2\n');
    expect(refusal(first)).toEqual({ code: 'data', message: `${first}: row 2 has quoted cells` });
    const later = write('label,a\n\n1,2\n\n\n0,"3"\n');
    expect(refusal(later)).toEqual({ code: 'data', message: `${later}: row 3 has quoted cells` });
    const text = write('label,a\n1,2\n0,2\n1,é"3"\n');
    expect(refusal(text)).toEqual({ code: 'data', message: `${text}: row 4 has quoted cells` });
  });

  it('a byte that is not UTF-8 reads as U+FFFD, as the text of the file does', () => {
    const bytes = Buffer.concat([Buffer.from('label,a\n1,'), Buffer.from([0x80]), Buffer.from('\n')]);
    const path = write(bytes);
    const want = thrown(() => parseCsvDataset(bytes.toString('utf8'), { source: path }));
    expect(refusal(path)).toEqual({ code: 'data', message: want.message });
    expect(want.message).toBe(`${path}: row 2, column "a": "\uFFFD" is not a number`);
  });

  it('a line of non-ASCII blanks (no-break spaces) is a blank line', () => {
    const path = write('label,a\n1,2\n\u00a0\u00a0\n0,3\n\u3000\n');
    for (const chunkBytes of [1, 4, undefined]) expect(plain(readCsvDataset(path, { chunkBytes }))).toEqual({ x: [2, 3], y: [1, 0], featureShape: [1], numClasses: 2 });
  });
});

describe('the file', () => {
  it('a file the system fails to read: code data, naming it, the system\'s error as the cause', () => {
    // /proc/self/mem is a regular file that opens, but reading its address 0 fails (EIO).
    const err = thrown(() => readCsvDataset('/proc/self/mem'));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'data', message: 'cannot read /proc/self/mem: EIO: i/o error, read' });
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EIO');
  });

  // Write-only (mode 0200) to everyone, root too: stat finds a regular file, open refuses it.
  it.skipIf(!existsSync('/proc/sys/vm/compact_memory'))('a file the system refuses to open: code data, naming it, the system\'s error as the cause', () => {
    const err = thrown(() => readCsvDataset('/proc/sys/vm/compact_memory'));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'data', message: "cannot read /proc/sys/vm/compact_memory: EACCES: permission denied, open '/proc/sys/vm/compact_memory'" });
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EACCES');
  });

  it('its descriptor is closed after a read, a refusal and a failed read', () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const good = write('label,a\n1,2\n');
    const bad = write('label,a\n1,x\n');
    for (let i = 0; i < 5; i++) {
      readCsvDataset(good);
      thrown(() => readCsvDataset(bad));
      thrown(() => readCsvDataset('/proc/self/mem'));
    }
    expect(open()).toBe(before);
  });
});
