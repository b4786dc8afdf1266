import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isFedtuneError } from '@fedtune/shared';
import { parseDigitsFile } from '@fedtune/shared/node';

// The built-in digits are parsed straight from the mnist package's JSON bytes (a fast start:
// docs/performance.md#fast-start); the values must be exactly what JSON.parse gives.

const require = createRequire(import.meta.url);
const bytes = (text: string) => new TextEncoder().encode(text);
const viaJson = (text: string) => Float32Array.from((JSON.parse(text) as { data: number[] }).data);

describe('parseDigitsFile', () => {
  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])('mnist/src/digits/%i.json: every value bit-identical to JSON.parse', (digit) => {
    const file = readFileSync(require.resolve(`mnist/src/digits/${digit}.json`));
    const parsed = parseDigitsFile(file);
    const expected = viaJson(file.toString('utf8'));
    expect(parsed.length).toBe(expected.length);
    expect(parsed.length % 784).toBe(0);
    let differing = 0;
    for (let i = 0; i < parsed.length; i++) if (!Object.is(parsed[i], expected[i])) differing++;
    expect(differing).toBe(0);
    expect(parsed.some((v) => v > 0 && v < 1)).toBe(true);
  });

  it.each([
    '{"data":[]}',
    '{"data":[0]}',
    '{"data":[1]}',
    '{ "data": [0, 0.149 ,1,\n0.992\r\n, 0.5 ] }',
    '{"data":[-0.25,-3,12.5,0.000001]}',
    '{"data":[1e-3,2E2,-1.5e+1]}',
    '{"data":[0.1490000000000000000001,123456789012345678,0.30000000000000004]}',
    '{"data":[3.4028235e38,1e-46]}',
  ])('%s → the values JSON.parse gives', (text) => {
    expect(Array.from(parseDigitsFile(bytes(text)))).toEqual(Array.from(viaJson(text)));
  });

  it.each([
    { text: 'no array here', why: /not a \{ "data": \[\.\.\.\] \} file/ },
    { text: '{"data":[1,,2]}', why: /empty value/ },
    { text: '{"data":[,]}', why: /empty value/ },
    { text: '{"data":[abc]}', why: /not a number/ },
    { text: '{"data":[1.2.3]}', why: /not a number/ },
    { text: '{"data":[-]}', why: /not a number/ },
    { text: '{"data":[1e999]}', why: /not a number/ },
  ])('$text → a typed data error', ({ text, why }) => {
    let error: unknown;
    try {
      parseDigitsFile(bytes(text), 'test.json');
    } catch (err) {
      error = err;
    }
    expect(isFedtuneError(error) && error.code).toBe('data');
    expect((error as Error).message).toMatch(/^test\.json: /);
    expect((error as Error).message).toMatch(why);
  });
});
