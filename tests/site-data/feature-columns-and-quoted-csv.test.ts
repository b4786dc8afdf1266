import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSiteData } from '@fedtune/client-node';
import { encodeTabularRows, parseCsvRows, textFromCsvRows } from '@fedtune/shared';
import { QUOTED_CELLS, readCsvDataset, readNumericCsv } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';

/** The Kaggle Titanic file's layout (DISCO's titanic task): quoted names with commas, empty cells. */
const TITANIC = `PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked
1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S
2,1,1,"Cumings, Mrs. John Bradley (Florence Briggs Thayer)",female,38,1,0,PC 17599,71.2833,C85,C
3,1,3,"Heikkinen, Miss. Laina",female,26,0,0,STON/O2. 3101282,7.925,,S
4,1,1,"Futrelle, Mrs. Jacques Heath (Lily May Peel)",female,35,1,0,113803,53.1,C123,S
5,0,3,"Allen, Mr. William Henry",male,35,0,0,373450,8.05,,S
6,0,3,"Moran, Mr. James",male,,0,0,330877,8.4583,,Q
`;
const DISCO_COLUMNS = ['Age', 'SibSp', 'Parch', 'Fare', 'Pclass'];

const dir = tempDir();
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('--feature-columns: only the named columns are features, in their order', () => {
  const rows = parseCsvRows('label,a,b,c\n0,1,2,3\n1,4,5,6\n');
  it('keeps the named columns in the given order and leaves the others out', () => {
    const t = encodeTabularRows(rows, { labelColumn: 'label', featureColumns: ['c', 'a'] });
    expect(t.schema.columns.map((c) => c.name)).toEqual(['c', 'a']);
    expect(Array.from(t.dataset.x)).toEqual([3, 1, 6, 4]);
    expect(Array.from(encodeTabularRows(rows, { labelColumn: 'label' }).dataset.x)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it.each([
    [['a', 'z'], /no "z" column in the header \(named by --feature-columns\)/],
    [['a', 'a'], /--feature-columns names "a" twice/],
    [['a', 'label'], /--feature-columns names the label column "label"/],
  ])('%j is refused with a clear error', (names, message) => {
    expect(() => encodeTabularRows(rows, { labelColumn: 'label', featureColumns: names })).toThrow(message);
  });
  it('a --categorical column must be one of the features', () => {
    expect(() => encodeTabularRows(rows, { labelColumn: 'label', featureColumns: ['a'], categorical: ['b'] })).toThrow(/--categorical names "b", which --feature-columns leaves out/);
    expect(encodeTabularRows(rows, { labelColumn: 'label', featureColumns: ['a', 'b'], categorical: ['b'] }).schema.features).toBe(3);
  });
});

describe('errors name the settings where the user set them', () => {
  const rows = parseCsvRows('label,a,b\n0,1,2\n1,4,5\n');
  const page = { labelColumn: 'the "Label column" field', categorical: 'the "categorical columns" field', featureColumns: 'the "feature columns" field' };
  it.each<[string, Parameters<typeof encodeTabularRows>[1], RegExp, RegExp]>([
    ['a missing label column', { labelColumn: 'y' }, /--label-column names another/, /the "Label column" field names another/],
    ['a missing categorical column', { labelColumn: 'label', categorical: ['z'] }, /named by --categorical/, /named by the "categorical columns" field/],
    ['the label as categorical', { labelColumn: 'label', categorical: ['label'] }, /^--categorical names the label column/, /^the "categorical columns" field names the label column/],
    ['a categorical column left out', { labelColumn: 'label', featureColumns: ['a'], categorical: ['b'] }, /--categorical names "b", which --feature-columns leaves out/, /the "categorical columns" field names "b", which the "feature columns" field leaves out/],
    ['a feature column named twice', { labelColumn: 'label', featureColumns: ['a', 'a'] }, /^--feature-columns names "a" twice/, /^the "feature columns" field names "a" twice/],
    ['the label as a feature column', { labelColumn: 'label', featureColumns: ['label'] }, /^--feature-columns names the label column/, /^the "feature columns" field names the label column/],
    ['a missing feature column', { labelColumn: 'label', featureColumns: ['z'] }, /named by --feature-columns/, /named by the "feature columns" field/],
  ])('%s: the CLI flag by default, the page\'s field in the browser', (_, options, cli, browser) => {
    expect(() => encodeTabularRows(rows, options)).toThrow(cli);
    expect(() => encodeTabularRows(rows, { ...options, settingNames: page })).toThrow(browser);
    expect(() => encodeTabularRows(rows, { ...options, settingNames: page })).not.toThrow(/--/);
  });
  it('the text CSV reader too', () => {
    const text = parseCsvRows('label,msg\n0,hi\n1,yo\n');
    expect(() => textFromCsvRows(text, { textColumn: 'body', labelColumn: 'label' })).toThrow(/named by --text-column/);
    expect(() => textFromCsvRows(text, { textColumn: 'msg', labelColumn: 'y', settingNames: { textColumn: 'the "text column" field', labelColumn: 'the "Label column" field' } })).toThrow(/the "Label column" field names another/);
    expect(() => textFromCsvRows(text, { textColumn: 'body', labelColumn: 'label', settingNames: { textColumn: 'the "text column" field', labelColumn: 'x' } })).toThrow(/named by the "text column" field/);
  });
});

describe('quoted CSV cells (RFC 4180): the Kaggle Titanic file as DISCO uses it', () => {
  const titanic = file('titanic.csv', TITANIC);
  it('the streaming numeric reader refuses quoted cells with a marker its callers fall back on', () => {
    expect(() => readCsvDataset(titanic, { labelColumn: 'Survived' })).toThrow(QUOTED_CELLS);
    expect(() => readCsvDataset(titanic, { labelColumn: 'Survived' })).toThrow(/row 2 has quoted cells/);
  });
  it('a quoted header is read as RFC 4180 by the streaming reader (a name may hold a comma)', () => {
    const d = readCsvDataset(file('quoted-header.csv', '"label","x, cm","y"\n0,1,2\n1,3,4\n'));
    expect(d.featureShape).toEqual([2]);
    expect(Array.from(d.x)).toEqual([1, 2, 3, 4]);
  });
  it('a site reads it: every column, names and tickets one-hot', () => {
    const all = readSiteData(titanic, { labelColumn: 'Survived' });
    expect(all.schema!.columns.map((c) => c.name)).toEqual(['PassengerId', 'Pclass', 'Name', 'Sex', 'Age', 'SibSp', 'Parch', 'Ticket', 'Fare', 'Cabin', 'Embarked']);
    expect(all.schema!.columns.find((c) => c.name === 'Name')).toMatchObject({ kind: 'categorical', width: 6 });
  });
  it("a site reads DISCO's five columns with --feature-columns, the missing age as NaN for --impute", () => {
    const five = readSiteData(titanic, { labelColumn: 'Survived', featureColumns: DISCO_COLUMNS });
    expect(five.dataset!.featureShape).toEqual([5]);
    expect(Array.from(five.dataset!.x.slice(0, 10))).toEqual([22, 1, 0, 7.25, 3, 38, 1, 0, Math.fround(71.2833), 1]);
    expect(Number.isNaN(five.dataset!.x[25])).toBe(true);
    expect(Array.from(five.dataset!.y)).toEqual([0, 1, 1, 1, 0, 0]);
  });
  it('the coordinator holdout / evaluate reader: the five columns, and one clear error for what it cannot take', () => {
    const complete = file('titanic-complete.csv', TITANIC.replace(',male,,0,0,330877', ',male,30,0,0,330877'));
    const d = readNumericCsv(complete, { labelColumn: 'Survived', featureColumns: DISCO_COLUMNS, numClasses: 2 });
    expect([d.featureShape, d.numClasses, d.y.length]).toEqual([[5], 2, 6]);
    expect(Array.from(d.x.slice(25, 30))).toEqual([30, 0, 0, Math.fround(8.4583), 3]);
    expect(() => readNumericCsv(titanic, { labelColumn: 'Survived', featureColumns: DISCO_COLUMNS })).toThrow(/missing values in "Age" \(1\): fill them \(--impute mean\|median\|zero\), or leave the column out with --feature-columns/);
    expect(() => readNumericCsv(complete, { labelColumn: 'Survived' })).toThrow(/column "Name" is not numeric/);
    expect(() => readNumericCsv(complete, { labelColumn: 'Sex', featureColumns: ['Age'] })).toThrow(/the "Sex" column holds names such as "female", not integer classes/);
    expect(() => readNumericCsv(complete, { labelColumn: 'Pclass', featureColumns: ['Age'], numClasses: 3 })).toThrow(/label 3 is outside 0\.\.2/);
  });
  it('impute: the holdout reader fills missing values with the mean, median (of the file\'s own values) or zero', () => {
    // Moran's age is missing; the others are 22, 38, 26, 35, 35: mean 31.2, median 35.
    const filled = (impute: 'mean' | 'median' | 'zero') => readNumericCsv(titanic, { labelColumn: 'Survived', featureColumns: DISCO_COLUMNS, impute });
    expect(Array.from(filled('mean').x.slice(25, 30))).toEqual([Math.fround(31.2), 0, 0, Math.fround(8.4583), 3]);
    expect(filled('median').x[25]).toBe(35);
    expect(filled('zero').x[25]).toBe(0);
    // Every value present is kept as it was.
    const mean = filled('mean');
    const complete = readNumericCsv(file('titanic-complete-2.csv', TITANIC.replace(',male,,0,0,330877', ',male,31.2,0,0,330877')), { labelColumn: 'Survived', featureColumns: DISCO_COLUMNS });
    expect(mean).toEqual(complete);
    // A plain numeric file: the streamed reader marks the empty cell, the full reader counts it — or imputes.
    const plain = file('plain-missing.csv', 'label,a,b\n0,1.5,\n1,3,4.25\n1,5,2.75\n');
    expect(() => readCsvDataset(plain)).toThrow(/row 2, column "b": "" is not a number \(a missing value\)/);
    expect(() => readNumericCsv(plain)).toThrow(/plain-missing\.csv: missing values in "b" \(1\): fill them \(--impute mean\|median\|zero\)/);
    expect(Array.from(readNumericCsv(plain, { impute: 'median' }).x)).toEqual([1.5, 3.5, 3, 4.25, 5, 2.75]);
  });
  it('a plain numeric CSV reads the same through the streaming path and the RFC 4180 path', () => {
    const plain = file('plain.csv', 'label,a,b\n0,1.5,2\n1,3,4.25\n');
    const streamed = readNumericCsv(plain);
    const parsed = readNumericCsv(plain, { featureColumns: ['a', 'b'] });
    expect(parsed).toEqual(streamed);
  });
});
