import { describe, expect, it } from 'vitest';
import { checkTextDataset, decodeTextFile, dropDuplicateTexts, formatTextDataCheck, MAX_LISTED_INDICES, MAX_TEXT_FILE_BYTES, type TextDataset } from '@fedtune/shared';

const MARKER = 'zebra-7731-quokka';

/**
 * 10 texts, 3 classes (class 2 has none):
 * - text 3 repeats text 0 with its label; text 6 repeats text 1 with its label (2 exact duplicates);
 * - text 5 is text 2's with another label (conflicting: 2 and 5);
 * - texts 4 and 8 are empty or whitespace only;
 * - labels: 7 of class 0, 3 of class 1, none of class 2: imbalance 7/3.
 */
function planted(): TextDataset {
  const rows: Array<[string, number]> = [
    [`hello ${MARKER}`, 0],
    ['win a prize', 1],
    ['meeting at noon', 0],
    [`hello ${MARKER}`, 0],
    ['', 0],
    ['meeting at noon', 1],
    ['win a prize', 1],
    ['lunch?', 0],
    ['  \n\t', 0],
    ['see you', 0],
  ];
  return { texts: rows.map((r) => r[0]), labels: Int32Array.from(rows.map((r) => r[1])), classNames: ['ham', 'spam', 'other'] };
}

describe('the text data check (shared by the Node and the browser site)', () => {
  it('finds the planted duplicates, conflicts, empty texts and the imbalance with exact counts', () => {
    const report = checkTextDataset(planted());
    expect(report).toEqual({
      examples: 10,
      duplicates: { count: 2, indices: [3, 6] },
      conflictingDuplicates: { count: 2, indices: [2, 5] },
      empty: { count: 2, indices: [4, 8] },
      labels: { counts: [7, 3, 0], imbalanceRatio: 7 / 3, emptyClasses: [2] },
    });
  });

  it('lists at most MAX_LISTED_INDICES indices while the counts stay complete', () => {
    const n = MAX_LISTED_INDICES + 2;
    const data: TextDataset = { texts: Array(n).fill('same'), labels: new Int32Array(n), classNames: ['a'] };
    const report = checkTextDataset(data);
    expect(report.duplicates.count).toBe(n - 1);
    expect(report.duplicates.indices).toEqual(Array.from({ length: MAX_LISTED_INDICES }, (_, i) => i + 1));
    expect(report.labels).toEqual({ counts: [n], imbalanceRatio: 1, emptyClasses: [] });
    const exactly: TextDataset = { texts: Array(MAX_LISTED_INDICES + 1).fill(''), labels: new Int32Array(MAX_LISTED_INDICES + 1), classNames: ['a'] };
    expect(checkTextDataset(exactly).empty.indices).toHaveLength(MAX_LISTED_INDICES);
  });

  it('an empty dataset has no imbalance; labels outside the classes are not counted', () => {
    expect(checkTextDataset({ texts: [], labels: new Int32Array(0), classNames: ['a', 'b'] }).labels).toEqual({ counts: [0, 0], imbalanceRatio: 0, emptyClasses: [0, 1] });
    const odd = checkTextDataset({ texts: ['a', 'b', 'c', 'd'], labels: Int32Array.from([-1, 2, 1, 1]), classNames: ['x', 'y'] });
    expect(odd.labels.counts).toEqual([0, 2]);
  });

  it('dropDuplicateTexts keeps the first copies in order; with none it returns the data itself', () => {
    const { text, dropped } = dropDuplicateTexts(planted());
    expect(dropped).toBe(2);
    expect(text.texts).toEqual([`hello ${MARKER}`, 'win a prize', 'meeting at noon', '', 'meeting at noon', 'lunch?', '  \n\t', 'see you']);
    expect(Array.from(text.labels)).toEqual([0, 1, 0, 0, 1, 0, 0, 0]);
    expect(text.classNames).toEqual(['ham', 'spam', 'other']);
    const clean = dropDuplicateTexts(text);
    expect(clean.dropped).toBe(0);
    expect(clean.text).toBe(text);
  });

  it('formats the report as short lines with counts only, never a text or a class name', () => {
    const lines = formatTextDataCheck(checkTextDataset(planted()));
    expect(lines).toEqual([
      'data check: 10 texts',
      '  duplicates: 2 exact (examples 3, 6); 2 with the same text but different labels (examples 2, 5)',
      '  empty texts: 2 (examples 4, 8)',
      '  labels: [7,3,0] per class; imbalance 2.33 (largest / smallest class); no examples of class 2',
    ]);
    const clean = formatTextDataCheck(checkTextDataset({ texts: ['a', 'b'], labels: Int32Array.from([0, 1]), classNames: ['x', 'y'] }));
    expect(clean.slice(1)).toEqual(['  duplicates: 0 exact; 0 with the same text but different labels', '  empty texts: 0', '  labels: [1,1] per class; imbalance 1.00 (largest / smallest class)']);
    const many = formatTextDataCheck(checkTextDataset({ texts: Array(12).fill('x'), labels: new Int32Array(12), classNames: ['a'] }));
    expect(many[1]).toBe('  duplicates: 11 exact (examples 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …); 0 with the same text but different labels');
    expect(lines.join('\n')).not.toMatch(new RegExp(`${MARKER}|hello|prize|ham|spam`));
  });
});

describe('decodeTextFile (the Node and the browser site read .txt files with it)', () => {
  it.each([
    ['UTF-8 text', new TextEncoder().encode('grüße'), 'grüße'],
    ['exactly the size limit', new Uint8Array(MAX_TEXT_FILE_BYTES).fill(0x61), 'a'.repeat(MAX_TEXT_FILE_BYTES)],
  ])('reads %s', (_, bytes, text) => {
    expect(decodeTextFile(bytes)).toBe(text);
  });
  it.each([
    ['invalid UTF-8', Uint8Array.from([0x61, 0xff, 0x62]), 'not valid UTF-8 text'],
    ['one byte over the limit', new Uint8Array(MAX_TEXT_FILE_BYTES + 1).fill(0x61), `larger than ${MAX_TEXT_FILE_BYTES} bytes`],
  ])('refuses %s with the reason', (_, bytes, reason) => {
    expect(() => decodeTextFile(bytes)).toThrow(new Error(reason));
  });
  it('the limit is 1 MiB', () => expect(MAX_TEXT_FILE_BYTES).toBe(1048576));
});
