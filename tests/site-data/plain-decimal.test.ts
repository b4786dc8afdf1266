import { describe, expect, it } from 'vitest';
import { cellNumber, plainDecimal } from '../../shared/src/node/read-csv-dataset.ts';

// The CSV reader's fast path exactly (mutation module site-data): which cells plainDecimal computes from their digits
// — a sign, at most 15 digits, at most one point, whitespace around — each bit for bit as Number() reads it, and
// which it leaves to Number() (undefined), wherever the cell lies in its bytes.
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** plainDecimal of `cell` framed by `before` and `after`, which it must not read. */
const fast = (cell: string, before = '', after = '') => plainDecimal(ascii(`${before}${cell}${after}`), before.length, before.length + cell.length);

describe('plainDecimal: the cells it computes, each as Number() reads it', () => {
  it.each([
    ['0', 0], ['9', 9], ['7', 7], ['-0', -0], ['+0', 0], ['-5', -5], ['+5', 5], ['10', 10], ['00012', 12],
    ['1.5', 1.5], ['-1.25', -1.25], ['.5', 0.5], ['5.', 5], ['+.5', 0.5], ['-.125', -0.125], ['0.1', 0.1], ['2.50', 2.5],
    [' 7', 7], ['7 ', 7], ['\t-3.5\r', -3.5], ['  12.75  ', 12.75],
    ['123456789012345', 123456789012345], ['12345678901234.5', 12345678901234.5], ['0.12345678901234', 0.12345678901234],
    ['999999999999999', 999999999999999], ['.000000000000001', 1e-15],
    ['', 0], [' ', 0], ['\t \r', 0],
  ])('%j is %s', (cell, want) => {
    const got = fast(cell);
    expect(Object.is(got, want)).toBe(true);
    expect(Object.is(got, Number(cell))).toBe(true);
  });

  it.each(['1234567890123456', '0.123456789012345', '.', '-', '+', '-.', '1..5', '1.2.3', '..5', '1e3', '1E-3', '0x1F', 'Infinity', 'NaN', '1 2', '--1', '+-1', '1-', '5+', 'a', '١'])(
    '%j is left to Number()',
    (cell) => expect(fast(cell)).toBeUndefined(),
  );

  it('control bytes below the tab are not whitespace: a cell holding one is left to Number() (NaN)', () => {
    for (const c of ['\u0000', '\u0001', '\u0008']) {
      expect(fast(`1${c}`)).toBeUndefined();
      expect(fast(`${c}1`)).toBeUndefined();
      expect(cellNumber(ascii(c), 0, 1)).toBeNaN();
    }
  });

  it('it reads only its own bytes: spaces, digits or a sign beside the cell change nothing', () => {
    expect(fast('  ', '', '  5')).toBe(0);
    expect(fast('   ', '9 ', ' 9')).toBe(0);
    expect(fast(' 7', '1', '')).toBe(7);
    expect(fast('7 ', '', '1')).toBe(7);
    expect(fast('7', '-', '3')).toBe(7);
    expect(fast('7', '1.', '.5')).toBe(7);
    expect(fast('', '12', '34')).toBe(0);
    expect(Object.is(fast('-0', '5', '5'), -0)).toBe(true);
  });

  it('cellNumber: its value when it has one, else Number() of the text', () => {
    for (const cell of ['12.5', ' -3 ', '1e3', '0x1F', '1..5', '.', 'Infinity', '1234567890123456789', '0.1234567890123456789', '', '1 2']) {
      expect(Object.is(cellNumber(ascii(`,${cell},`), 1, 1 + cell.length), Number(cell))).toBe(true);
    }
  });
});
