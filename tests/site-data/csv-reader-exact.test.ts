import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellNumber, readCsvDataset } from '../../shared/src/node/read-csv-dataset.ts';
import { parseCsvDataset } from '../../shared/src/data/parse-csv-dataset.ts';
import { FedtuneError } from '../../shared/src/errors.ts';
import { thrown } from '../helpers/thrown.ts';

// The streaming CSV reader exactly (mutation module site-data): its fast number parser bit for bit against Number(),
// lines that take the text path (a non-ASCII byte) with the label anywhere, arrays that grow past 1,024 rows on both
// paths, the largest label, the class count from the largest label wherever it is, and its option's refusal.
const work = mkdtempSync(join(tmpdir(), 'fedtune-csv-exact-'));
let files = 0;
const write = (text: string) => {
  const path = join(work, `f${files++}.csv`);
  writeFileSync(path, text);
  return path;
};
/** x (−0 kept apart), y, shape and classes, or the error's code and message. */
function read(run: () => { x: Float32Array; y: Int32Array; featureShape: number[]; numClasses: number }) {
  try {
    const d = run();
    return { x: Array.from(d.x, (v) => (Object.is(v, -0) ? '-0' : v)), y: Array.from(d.y), featureShape: d.featureShape, numClasses: d.numClasses };
  } catch (err) {
    if (!(err instanceof FedtuneError)) throw err;
    return { error: `${err.code}: ${err.message}` };
  }
}
const sameAsText = (text: string) => {
  const path = write(text);
  const want = read(() => parseCsvDataset(text, { source: path }));
  for (const chunkBytes of [7, undefined]) expect(read(() => readCsvDataset(path, { chunkBytes }))).toEqual(want);
  return want;
};
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('cellNumber: exactly Number() of the cell', () => {
  it.each([
    '0', '-0', '+0', '7', ' 7 ', '\t7\r', '+.5', '.5', '5.', '-.125', '00012', '1.', '.', '-', '+', '', '   ', '1.2.3', '1e3', '1E-3', '0x1F', 'Infinity', '-Infinity', 'NaN', '1 2',
    '123456789012345', '1234567890123456', '12345678901234567', '0.123456789012345', '0.1234567890123456789', '9007199254740993',
    `0.${'0'.repeat(21)}1`, `0.${'0'.repeat(22)}1`, `1${'0'.repeat(22)}`, '3.4028235e38', '0.30000000000000004', '-12.5e1', '١',
  ])('%j', (cell) => {
    expect(Object.is(cellNumber(ascii(` ,${cell},`), 2, 2 + cell.length), Number(cell))).toBe(true);
  });

  it('random decimals, signs and padding: the same double as Number()', () => {
    const decimal = fc.tuple(fc.constantFrom('', '-', '+'), fc.stringMatching(/^[0-9]{0,18}$/), fc.option(fc.stringMatching(/^[0-9]{0,24}$/)), fc.constantFrom('', ' ', '\t', '  ')).map(([sign, int, frac, pad]) => `${pad}${sign}${int}${frac === null ? '' : `.${frac}`}${pad}`);
    fc.assert(
      fc.property(fc.oneof(decimal, fc.double().map(String), fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v.toFixed(7))), (cell) => {
        expect(Object.is(cellNumber(ascii(cell), 0, cell.length), Number(cell))).toBe(true);
      }),
      { numRuns: 600, seed: 61 },
    );
  });
});

describe('readCsvDataset: both paths, the same as parseCsvDataset', () => {
  const nbsp = '\u00a0';
  it.each([
    ['a non-ASCII row (padding Number() trims) with the label in the middle', `a,label,b\n${nbsp}1,2,3${nbsp}\n4,0,${nbsp}6\n`],
    ['a non-ASCII row with the label first and CRLF', `label,a,b\r\n2,${nbsp}1,3\r\n0,4,5\r\n`],
    ['a non-ASCII row with the label last', `a,b,label\n1,${nbsp}2,1\n`],
  ])('%s', (_n, text) => {
    expect(sameAsText(text)).not.toHaveProperty('error');
  });

  it('1,500 rows grow the arrays past 1,024 on the fast path and on the text path', () => {
    const rows = Array.from({ length: 1500 }, (_, i) => `${i % 7},${i},${-i / 4}`);
    expect(sameAsText(['label,a,b', ...rows, ''].join('\n'))).toMatchObject({ numClasses: 7, featureShape: [2] });
    const text = Array.from({ length: 1500 }, (_, i) => `${i % 3},${nbsp}${i},${i * 2}`);
    const got = sameAsText(['label,a,b', ...text, ''].join('\n'));
    expect(got).toMatchObject({ numClasses: 3 });
    expect((got as { x: number[] }).x.slice(-2)).toEqual([1499, 2998]);
  });

  it('the classes are the largest label + 1, wherever it is', () => {
    expect(sameAsText('label,a\n3,1\n1,2\n0,3\n')).toMatchObject({ numClasses: 4, y: [3, 1, 0] });
    expect(sameAsText(`label,a\n3,${nbsp}1\n1,${nbsp}2\n`)).toMatchObject({ numClasses: 4 });
  });

  it('label 65,535 is the largest class; 65,536 is refused naming the row, on both paths', () => {
    expect(sameAsText('label,a\n65535,1\n')).toMatchObject({ numClasses: 65536 });
    const ascii = sameAsText('label,a\n0,1\n65536,1\n');
    expect(ascii).toEqual({ error: expect.stringMatching(/^data: .*: row 3: label 65536 is too large: at most 65536 classes are supported \(labels 0\.\.65535\)$/) });
    expect(sameAsText(`label,a\n65536,${nbsp}1\n`)).toEqual({ error: expect.stringMatching(/: row 2: label 65536 is too large/) });
  });

  it('a chunk size that is not a positive integer: the exact refusal', () => {
    const err = thrown(() => readCsvDataset(write('label,a\n1,2\n'), { chunkBytes: 0 }));
    expect({ code: err.code, message: err.message }).toEqual({ code: 'config', message: 'chunkBytes must be a positive integer, got 0' });
  });
});
