import { describe, expect, it } from 'vitest';
import { CLI_TABULAR_SETTING_NAMES, encodeTabularRows, isFreeTextColumn } from '@fedtune/shared';
import { BROWSER_TABULAR_SETTING_NAMES } from '../../client-web/src/data/load-csv-file.ts';

/**
 * A CSV column of free text (an e-mail body) is refused as a categorical column, naming the text-column setting:
 * a new user gave `fedtune client --data mail.csv` without --text-column and got "one-hot: body (30 categories)",
 * every e-mail its own category.
 */
const mail = (i: number) => `Dear customer number ${i}, your account statement for this month is ready to view online now`;
const rows = (n: number, body: (i: number) => string) => [['body', 'label'], ...Array.from({ length: n }, (_, i) => [body(i), String(i % 2)])];

describe('isFreeTextColumn', () => {
  it.each([
    ['20 distinct e-mails', Array.from({ length: 20 }, (_, i) => mail(i)), true],
    ['19 distinct e-mails (too few to tell)', Array.from({ length: 19 }, (_, i) => mail(i)), false],
    ['20 e-mails, 17 distinct (85 %)', Array.from({ length: 20 }, (_, i) => mail(Math.min(i, 16))), false],
    ['20 e-mails, 18 distinct (90 %)', Array.from({ length: 20 }, (_, i) => mail(Math.min(i, 17))), true],
    ['passenger names (4 words, ~27 characters)', Array.from({ length: 40 }, (_, i) => `Braund, Mr. Owen Harris ${i}`), false],
    ['long identifiers without words', Array.from({ length: 40 }, (_, i) => `${'x'.repeat(60)}-${i}`), false],
    ['4 words of 40+ characters', Array.from({ length: 40 }, (_, i) => `internationalisation departmental ${i} reorganisations`), false],
    ['5 words of 40+ characters', Array.from({ length: 40 }, (_, i) => `internationalisation departmental ${i} reorganisations today`), true],
  ])('%s: %s', (_, values, text) => {
    expect(isFreeTextColumn(values) !== undefined).toBe(text);
  });
});

describe('encodeTabularRows refuses a free-text column as categories', () => {
  it('naming the column, its counts and the settings (CLI flags, browser fields)', () => {
    expect(() => encodeTabularRows(rows(30, mail), { labelColumn: 'label' })).toThrow(expect.objectContaining({
      code: 'data',
      message: `the CSV: column "body" looks like free text, not categories (30 distinct values in 30 rows, ${Math.round(rows(30, mail).slice(1).reduce((n, r) => n + r[0].length, 0) / 30)} characters on average): read it as the text column (--text-column "body") for a text model, leave it out (--feature-columns), or one-hot it anyway (--categorical "body")`,
    }));
    expect(CLI_TABULAR_SETTING_NAMES.textColumn).toBe('--text-column');
    expect(() => encodeTabularRows(rows(30, mail), { labelColumn: 'label', source: 'mail.csv', settingNames: BROWSER_TABULAR_SETTING_NAMES })).toThrow(/^mail\.csv: column "body" looks like free text.*the text column \(the "text column" field "body"\).*\(the "feature columns" field\).*\(the "categorical columns" field "body"\)$/);
  });

  it('--categorical names it: one-hot as asked; short categories and hashed columns are untouched', () => {
    expect(encodeTabularRows(rows(30, mail), { labelColumn: 'label', categorical: ['body'] }).schema.columns[0]).toMatchObject({ kind: 'categorical', width: 30 });
    expect(encodeTabularRows(rows(30, (i) => ['red', 'green', 'blue'][i % 3]), { labelColumn: 'label' }).schema.columns[0]).toMatchObject({ kind: 'categorical', width: 3 });
    expect(encodeTabularRows(rows(30, mail), { labelColumn: 'label', categoryBuckets: 8 }).schema.columns[0]).toMatchObject({ kind: 'categorical', width: 8, hashed: true });
  });
});
