import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedtuneError, parseCsvDataset, subset } from '@fedtune/shared';
import { builtinDigits, readCsvDataset, writeCsvDataset } from '@fedtune/shared/node';

// readCsvDataset streams a file's bytes into the Float32Array (docs/performance.md#fast-start); it must give
// exactly what parseCsvDataset gives for the file's text — the same values bit for bit, or the same error.

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fedtune-csv-stream-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Outcome = { x: number[]; y: number[]; featureShape: number[]; numClasses: number } | { error: string };
/** A dataset as plain arrays with -0 kept apart from 0 (toEqual on Float32Arrays treats them as equal). */
function outcome(run: () => { x: Float32Array; y: Int32Array; featureShape: number[]; numClasses: number }): Outcome {
  try {
    const d = run();
    return { x: Array.from(d.x, (v) => (Object.is(v, -0) ? Number.NEGATIVE_INFINITY : v)), y: Array.from(d.y), featureShape: d.featureShape, numClasses: d.numClasses };
  } catch (err) {
    if (!(err instanceof FedtuneError)) throw err;
    return { error: `${err.code}: ${err.message}` };
  }
}

let files = 0;
/** Reads `text` from a file with several chunk sizes and checks each against parseCsvDataset. */
function expectSameAsText(text: string | Buffer, options: { labelColumn?: string; numClasses?: number } = {}): Outcome {
  const path = join(work, `f${files++}.csv`);
  writeFileSync(path, text);
  const want = outcome(() => parseCsvDataset(Buffer.from(text).toString('utf8'), { ...options, source: path }));
  for (const chunkBytes of [1, 3, 17, 4096, undefined]) expect(outcome(() => readCsvDataset(path, { ...options, chunkBytes })), `chunkBytes ${chunkBytes}`).toEqual(want);
  return want;
}

describe('readCsvDataset gives what parseCsvDataset gives', () => {
  it.each([
    { name: 'plain', text: 'label,a,b\n1,0.5,2\n0,-3,4.25\n' },
    { name: 'CRLF line ends and no final newline', text: 'label,a,b\r\n1,0.5,2\r\n0,-3,4.25' },
    { name: 'blank and whitespace-only lines', text: '\n  \nlabel,a\n\n1,2\n \t \n0,3\n\n' },
    { name: 'the label column elsewhere, quoted header names', text: '"a", "label" ,b\n1,2,3\n4,0,6\n' },
    { name: 'number formats Number() accepts', text: 'label,a,b,c,d,e,f,g\n1, 7 ,+.5,1.,-0,0x1F,1e-3,00012\n0,-1E+2,.125,3.4028235e38,1e-46,0.1,0.30000000000000004,123456789012345678\n' },
    { name: 'long decimals', text: 'label,a,b\n0,0.123456789012345678,1234567.891011121314\n0,9007199254740993,0.000000000000000000000001\n' },
    { name: 'an empty label cell counts as 0 (as Number(""))', text: 'label,a\n,1\n' },
    { name: 'non-ASCII header and cells', text: 'label,größe,β\n1,2,3\n' },
    { name: 'a UTF-8 byte order mark', text: '\uFEFFlabel,a\n1,2\n' },
    { name: 'numClasses given', text: 'label,a\n1,2\n', options: { numClasses: 4 } },
    { name: 'another label column', text: 'y,a\n2,1\n', options: { labelColumn: 'y' } },
  ])('$name', ({ text, options }) => {
    expect(expectSameAsText(text, options)).not.toHaveProperty('error');
  });

  it.each([
    { name: 'an empty file', text: '', error: /needs a header row and at least one example/ },
    { name: 'a header alone', text: 'label,a\n\n', error: /needs a header row/ },
    { name: 'a header alone without the label column', text: 'a,b\n', error: /needs a header row/ },
    { name: 'no label column', text: 'a,b\n1,2\n', error: /no "label" column/ },
    { name: 'no feature columns', text: 'label\n1\n', error: /no feature columns/ },
    { name: 'a short row', text: 'label,a,b\n1,2,3\n1,2\n', error: /row 3 has 2 cells, the header has 3/ },
    { name: 'a long row after blank lines', text: 'label,a\n\n1,2\n\n1,2,3\n', error: /row 3 has 3 cells/ },
    { name: 'a text cell', text: 'label,a\n1,x\n', error: /row 2, column "a": "x" is not a number/ },
    { name: 'an empty feature cell', text: 'label,a,b\n1, ,2\n', error: /column "a": " " is not a number/ },
    { name: 'Infinity', text: 'label,a\n1,Infinity\n', error: /is not a number/ },
    { name: 'a fractional label', text: 'label,a\n1.5,2\n', error: /label "1.5" is not a non-negative integer/ },
    { name: 'a negative label', text: 'label,a\n-1,2\n', error: /label "-1"/ },
    { name: 'a non-ASCII cell', text: 'label,a\n1,2€\n', error: /"2€" is not a number/ },
    { name: 'a label beyond numClasses', text: 'label,a\n3,2\n', options: { numClasses: 3 }, error: /label 3 is outside 0..2/ },
  ])('the same error for $name', ({ text, options, error }) => {
    const got = expectSameAsText(text, options);
    expect('error' in got && got.error).toMatch(error);
  });

  it('random files: cells in every number format, blank lines, CRLF, chunk boundaries anywhere', () => {
    const cell = fc.oneof(
      fc.integer({ min: -1e6, max: 1e6 }).map(String),
      fc.double({ noNaN: true }).map(String),
      fc.float({ noNaN: true }).map(String),
      fc.double({ min: -10, max: 10, noNaN: true }).map((v) => v.toFixed(4)),
      fc.constantFrom('', ' ', '1e3', '-0', '.5', '5.', 'x', '0x10', ' 2 ', '1.2.3', '+', '-', 'é'),
    );
    const row = fc.tuple(fc.oneof(fc.integer({ min: 0, max: 9 }).map(String), fc.constantFrom('1.5', '-1', '')), fc.array(cell, { minLength: 2, maxLength: 4 })).map(([l, cells]) => [l, ...cells].join(','));
    fc.assert(
      fc.property(fc.array(fc.oneof(row, fc.constant(''), fc.constant('  ')), { minLength: 1, maxLength: 12 }), fc.boolean(), (rows, crlf) => {
        expectSameAsText(['label,a,b,c', ...rows].join(crlf ? '\r\n' : '\n'));
      }),
      { numRuns: 150, seed: 14 },
    );
  });

  it('a site CSV of the built-in task, bit for bit', async () => {
    const path = join(work, 'site.csv');
    await writeCsvDataset(path, subset(builtinDigits().pool, Array.from({ length: 300 }, (_, i) => i * 7)));
    const streamed = readCsvDataset(path);
    const text = parseCsvDataset((await import('node:fs')).readFileSync(path, 'utf8'), { source: path });
    expect(Buffer.from(streamed.x.buffer).equals(Buffer.from(text.x.buffer))).toBe(true);
    expect(Array.from(streamed.y)).toEqual(Array.from(text.y));
    expect(streamed.x.length).toBe(300 * streamed.featureShape[0]);
    expect(streamed.featureShape).toEqual(text.featureShape);
  });
});

describe('readCsvDataset input errors', () => {
  it('a file that cannot be read is a data error naming it', () => {
    expect(() => readCsvDataset(join(work, 'nope.csv'))).toThrow(expect.objectContaining({ code: 'data', message: `no CSV dataset at ${join(work, 'nope.csv')}` }));
  });

  it.each([0, -1, 1.5, Number.NaN])('chunkBytes %s is a config error', (chunkBytes) => {
    const path = join(work, 'ok.csv');
    writeFileSync(path, 'label,a\n1,2\n');
    expect(() => readCsvDataset(path, { chunkBytes })).toThrow(expect.objectContaining({ code: 'config' }));
  });
});
