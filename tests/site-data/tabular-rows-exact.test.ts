import { describe, expect, it } from 'vitest';
import { encodeTabularRows, isMissingCell, type TabularOptions } from '../../shared/src/data/encode-tabular-rows.ts';
import { categoryBucket } from '../../shared/src/data/hash-category.ts';
import { thrown } from '../helpers/thrown.ts';

// Tabular rows exactly (mutation module site-data): each refusal's code — 'data' for what the file holds, 'config'
// for what the settings ask — and words, and the padding a cell or a header name may carry.
describe('encodeTabularRows: each refusal, its code and words', () => {
  it.each([
    ['a header alone', [['label', 'a']], {}, 'data', 'the CSV: needs a header row and at least one example'],
    ['no label column', [['x', 'a'], ['1', '2']], {}, 'data', 'the CSV: no "label" column in the header (the label column; --label-column names another)'],
    ['a feature column named twice', [['label', 'a'], ['1', '2']], { featureColumns: ['a', 'a'] }, 'config', '--feature-columns names "a" twice'],
    ['the label as a feature', [['label', 'a'], ['1', '2']], { featureColumns: ['label'] }, 'config', '--feature-columns names the label column "label"'],
    ['the label as a category', [['label', 'a'], ['1', '2']], { categorical: ['label'] }, 'config', '--categorical names the label column "label"'],
    ['a category the features leave out', [['label', 'a', 'b'], ['1', '2', '3']], { categorical: ['b'], featureColumns: ['a'] }, 'config', '--categorical names "b", which --feature-columns leaves out'],
    ['a short row', [['label', 'a'], ['1']], {}, 'data', 'the CSV: row 2 has 1 cells, the header has 2'],
    ['only the label', [['label'], ['1'], ['0']], {}, 'data', 'the CSV: no feature columns'],
  ] as const)('%s', (_n, rows, options, code, message) => {
    const err = thrown(() => encodeTabularRows(rows.map((r) => [...r]), { labelColumn: 'label', ...(options as Partial<TabularOptions>) }));
    expect({ code: err.code, message: err.message }).toEqual({ code, message });
  });
});

describe('encodeTabularRows: padding', () => {
  it('header names and missing cells are read trimmed', () => {
    expect(isMissingCell(' NA ')).toBe(true);
    expect(isMissingCell(' n/a')).toBe(true);
    const { dataset, schema } = encodeTabularRows([[' label ', ' a '], ['1', ' NA '], ['0', '2']], { labelColumn: 'label' });
    expect(schema.columns).toEqual([{ name: 'a', kind: 'numeric', width: 1, missing: 1 }]);
    expect(Array.from(dataset.x)).toEqual([NaN, 2]);
  });

  it('a category padded with spaces is the same category', () => {
    const { dataset, schema } = encodeTabularRows([['label', 'c'], ['1', ' x '], ['0', 'y'], ['1', 'x']], { labelColumn: 'label', categorical: ['c'] });
    expect(schema.columns).toEqual([{ name: 'c', kind: 'categorical', width: 2, missing: 0 }]);
    expect(Array.from(dataset.x)).toEqual([1, 0, 0, 1, 1, 0]);
  });
});

describe('encodeTabularRows: hashed categories and free text', () => {
  it('a hashed category padded with spaces lands in the bucket of its trimmed value; a missing cell fills its buckets with NaN', () => {
    const { dataset, schema } = encodeTabularRows([['label', 'c'], ['1', ' x '], ['0', 'x'], ['1', 'NA']], { labelColumn: 'label', categoryBuckets: 5 });
    expect(schema.columns).toEqual([{ name: 'c', kind: 'categorical', width: 5, missing: 1, hashed: true }]);
    // 'x' hashes to bucket 4 of 5 (' x ' untrimmed would be bucket 1).
    expect(categoryBucket('c', 'x', 5)).toBe(4);
    expect(Array.from(dataset.x)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, NaN, NaN, NaN, NaN, NaN]);
    // The padded value alone, and last: nothing else puts 'x' in its bucket.
    for (const rows of [[['label', 'c'], ['1', ' x ']], [['label', 'c'], ['0', 'x'], ['1', ' x ']]]) {
      const padded = encodeTabularRows(rows, { labelColumn: 'label', categoryBuckets: 5 }).dataset.x;
      expect(Array.from(padded.subarray(padded.length - 5))).toEqual([0, 0, 0, 0, 1]);
    }
  });

  it('a free-text column when the settings have no text column: the refusal names the other two ways only', () => {
    const body = (i: number) => `a long message number ${i} that reads like free text and not like a category`;
    const rows = [['body', 'label'], ...Array.from({ length: 20 }, (_, i) => [body(i), String(i % 2)])];
    const meanChars = Math.round(rows.slice(1).reduce((n, r) => n + r[0].length, 0) / 20);
    const err = thrown(() => encodeTabularRows(rows, { labelColumn: 'label', settingNames: { labelColumn: 'L', categorical: 'C', featureColumns: 'F' } }));
    expect({ code: err.code, message: err.message }).toEqual({
      code: 'data',
      message: `the CSV: column "body" looks like free text, not categories (20 distinct values in 20 rows, ${meanChars} characters on average): leave it out (F), or one-hot it anyway (C "body")`,
    });
  });
});
