// The titanic-like file bench:disco gives both fedtune and DISCO: the Kaggle layout, deterministic, learnable.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSiteData } from '@fedtune/client-node';
import { parseCsvRows } from '@fedtune/shared';
import { readNumericCsv } from '@fedtune/shared/node';
import { titanicLikeCsv } from '../../bench/titanic-like-csv.ts';
import { tempDir } from '../helpers/federation.ts';

const COLUMNS = ['Age', 'SibSp', 'Parch', 'Fare', 'Pclass'];

describe('bench/titanic-like-csv', () => {
  const text = titanicLikeCsv(891, 1912);
  const [header, ...body] = parseCsvRows(text);
  const rows = { header, rows: body };
  it("has the Kaggle file's header and cell formats, the same for a seed", () => {
    expect(rows.header).toEqual(['PassengerId', 'Survived', 'Pclass', 'Name', 'Sex', 'Age', 'SibSp', 'Parch', 'Ticket', 'Fare', 'Cabin', 'Embarked']);
    expect(rows.rows).toHaveLength(891);
    expect(text).toMatch(/\n\d+,[01],[123],"[A-Za-z]+, (Mr|Mrs|Miss|Master)\. [^"]+",(male|female),/);
    expect(titanicLikeCsv(891, 1912)).toBe(text);
    expect(titanicLikeCsv(891, 1913)).not.toBe(text);
    const ages = rows.rows.map((r) => r[5]);
    expect(ages.filter((a) => a === '').length).toBeGreaterThan(100); // ~20 % missing, as in the real file
    expect(Math.max(...rows.rows.map((r) => Number(r[9])))).toBeGreaterThan(100); // unscaled fares
  });
  it("reads as DISCO's task at a site and as a coordinator holdout (--feature-columns, --impute zero)", () => {
    const path = join(tempDir(), 'titanic.csv');
    writeFileSync(path, text);
    const site = readSiteData(path, { labelColumn: 'Survived', featureColumns: COLUMNS });
    expect(site.dataset!.featureShape).toEqual([5]);
    const holdout = readNumericCsv(path, { labelColumn: 'Survived', featureColumns: COLUMNS, impute: 'zero' });
    expect(holdout.y.length).toBe(891);
    // The label depends on the columns (women and first class survive more): there is something to learn.
    const survived = (pred: (r: string[]) => boolean) => {
      const rs = rows.rows.filter(pred);
      return rs.filter((r) => r[1] === '1').length / rs.length;
    };
    expect(survived((r) => r[2] === '1')).toBeGreaterThan(survived((r) => r[2] === '3') + 0.2);
    expect(survived((r) => r[4] === 'female')).toBeGreaterThan(survived((r) => r[4] === 'male') + 0.2);
  });
});
