// readNumericCsv (the coordinator's --holdout, fedtune evaluate --data) exactly: which reader takes a file, what
// each refusal says, and what --impute fills. Mutation module numeric-csv (scripts/mutation.mjs).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FedtuneError } from '@fedtune/shared';
import { readNumericCsv } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';

const dir = tempDir();
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('readNumericCsv: which reader', () => {
  it('a plain numeric file is streamed: a text cell is refused with the streamed reader\'s own line', () => {
    const path = file('text-cell.csv', 'label,a\n1,x\n');
    expect(() => readNumericCsv(path)).toThrow(new FedtuneError('data', `${path}: row 2, column "a": "x" is not a number`));
  });
  it('with --feature-columns the full reader takes it, and names the column', () => {
    const path = file('text-cell-2.csv', 'label,a\n1,x\n');
    expect(() => readNumericCsv(path, { featureColumns: ['a'] })).toThrow(new FedtuneError('data', `${path}: column "a" is not numeric (--feature-columns picks the numeric columns)`));
  });
  it('numClasses reaches the streamed reader and the full one', () => {
    const path = file('two-classes.csv', 'label,a\n0,1\n1,2\n');
    expect(readNumericCsv(path, { numClasses: 4 }).numClasses).toBe(4);
    expect(readNumericCsv(path).numClasses).toBe(2);
    expect(readNumericCsv(path, { numClasses: 4, featureColumns: ['a'] }).numClasses).toBe(4);
    expect(() => readNumericCsv(path, { numClasses: 1, featureColumns: ['a'] })).toThrow(new FedtuneError('data', `${path}: label 1 is outside 0..0`));
  });
  it('quoted or empty cells fall back on the full reader (the same numbers as a clean file streamed)', () => {
    const quoted = file('quoted.csv', 'label,a,b\n0,"1.5",2\n1,3,4\n');
    expect(Array.from(readNumericCsv(quoted).x)).toEqual([1.5, 2, 3, 4]);
    const empty = file('empty.csv', 'label,a,b\n0,1.5,\n1,3,4\n');
    expect(Array.from(readNumericCsv(empty, { impute: 'zero' }).x)).toEqual([1.5, 0, 3, 4]);
  });
  it('a file that cannot be read: one line naming it, code data', () => {
    const missing = join(dir, 'no-such.csv');
    for (const options of [{}, { featureColumns: ['a'] }]) {
      let error: unknown;
      try {
        readNumericCsv(missing, options);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(FedtuneError);
      expect((error as FedtuneError).code).toBe('data');
      expect((error as FedtuneError).message).toBe(`no CSV dataset at ${missing}`);
      expect((error as { cause?: { code?: string } }).cause?.code).toBe('ENOENT');
    }
  });
});

describe('readNumericCsv: refusals, exactly', () => {
  it('missing values: the first five columns with their counts, then …', () => {
    const header = 'label,a,b,c,d,e,f';
    const path = file('six-missing.csv', `${header}\n0,,,,,,\n1,1,,3,4,5,\n`);
    expect(() => readNumericCsv(path)).toThrow(
      new FedtuneError('data', `${path}: missing values in "a" (1), "b" (2), "c" (1), "d" (1), "e" (1), …: fill them (--impute mean|median|zero), or leave the column out with --feature-columns`),
    );
    const five = file('five-missing.csv', 'label,a,b,c,d,e\n0,,,,,\n1,1,2,3,4,5\n');
    expect(() => readNumericCsv(five)).toThrow(
      new FedtuneError('data', `${five}: missing values in "a" (1), "b" (1), "c" (1), "d" (1), "e" (1): fill them (--impute mean|median|zero), or leave the column out with --feature-columns`),
    );
  });
  it('named labels', () => {
    const path = file('named.csv', 'label,a\ncat,1\ndog,2\n');
    expect(() => readNumericCsv(path, { featureColumns: ['a'] })).toThrow(new FedtuneError('data', `${path}: the "label" column holds names such as "cat", not integer classes 0, 1, …`));
  });
});

describe('readNumericCsv: --impute', () => {
  const path = file('impute.csv', 'label,a,b\n0,1,\n1,,10\n0,4,20\n1,7,60\n');
  it('mean, median and zero of the file\'s own present values, per column; present values kept', () => {
    expect(Array.from(readNumericCsv(path, { impute: 'mean' }).x)).toEqual([1, 30, 4, 10, 4, 20, 7, 60]);
    expect(Array.from(readNumericCsv(path, { impute: 'median' }).x)).toEqual([1, 20, 4, 10, 4, 20, 7, 60]);
    expect(Array.from(readNumericCsv(path, { impute: 'zero' }).x)).toEqual([1, 0, 0, 10, 4, 20, 7, 60]);
    expect(Array.from(readNumericCsv(path, { impute: 'median' }).y)).toEqual([0, 1, 0, 1]);
  });
});
