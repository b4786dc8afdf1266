import { describe, expect, it } from 'vitest';
import { compareSiteIds } from '../../coordinator/src/report/compare-site-ids.ts';

describe('compareSiteIds: the order reports list sites in', () => {
  it('compares the numbers in ids as numbers', () => {
    expect(['site-10', 'site-2', 'site-1', 'site-100', 'site-02b'].sort(compareSiteIds)).toEqual(['site-1', 'site-2', 'site-02b', 'site-10', 'site-100']);
    expect(compareSiteIds('site-9', 'site-10')).toBeLessThan(0);
    expect(compareSiteIds('site-10', 'site-9')).toBeGreaterThan(0);
    expect(compareSiteIds('a', 'a')).toBe(0);
  });

  it('is the order of localeCompare with numeric collation (what the reports used before), on 1,500 shuffled ids', () => {
    const ids = Array.from({ length: 1500 }, (_, i) => `${i % 3 === 0 ? 'hospital' : 'site'}-${(i * 7919) % 1500}`);
    expect([...ids].sort(compareSiteIds)).toEqual([...ids].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })));
  });
});
