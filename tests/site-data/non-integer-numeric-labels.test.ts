import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSiteData } from '@fedtune/client-node';
import { encodeLabels } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

describe('numeric labels that are not all non-negative integers', () => {
  it('one 2.5 among integer labels is refused in one line naming its row and value, never renumbered', () => {
    const error = thrown(() => encodeLabels(['0', '1', '2', '2.5', '3', '9'], 'typo.csv', 2));
    expect(error.code).toBe('data');
    expect(error.message).toContain('typo.csv: row 5: label "2.5"');
    expect(error.message).not.toContain('\n');
  });
  it('a negative number among integer labels is refused too', () => {
    expect(() => encodeLabels(['0', '-1', '1'], 'neg.csv', 2)).toThrow(/neg\.csv: row 3: label "-1"/);
  });
  it('integer labels stay the class indices, and names are still sorted names', () => {
    expect(encodeLabels(['3', '0', '1'], 'ok.csv', 2)).toEqual({ labels: Int32Array.from([3, 0, 1]), numClasses: 4 });
    expect(encodeLabels(['dog', 'cat'], 'ok.csv', 2).classNames).toEqual(['cat', 'dog']);
  });
  it('a site CSV with a stray 2.5 label: refused by the site data reader', () => {
    const file = join(tempDir(), 'typo.csv');
    writeFileSync(file, 'a,b,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,2.5\n0.7,0.8,3\n');
    const error = thrown(() => readSiteData(file));
    expect(error.code).toBe('data');
    expect(error.message).toMatch(/row 4: label "2\.5"/);
  });
});
