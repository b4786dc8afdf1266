import { describe, expect, it } from 'vitest';
import { categoryBucket, encodeTabularRows, SiteDataOptions } from '@fedtune/shared';

const csv = (text: string) => text.trim().split('\n').map((line) => line.split(','));

describe('hashed categorical columns: the same layout at every site', () => {
  it('two sites with different category sets encode each shared value in the same feature', () => {
    const a = encodeTabularRows(csv('label,colour,size\n0,blue,1\n1,red,2\n0,blue,3'), { labelColumn: 'label', categoryBuckets: 16 });
    const b = encodeTabularRows(csv('label,colour,size\n1,red,5\n0,green,6\n1,yellow,7\n0,purple,8'), { labelColumn: 'label', categoryBuckets: 16 });
    // Same width at both sites (one-hot over each site's own categories would give 2 + 1 and 4 + 1).
    expect(a.dataset.featureShape).toEqual([17]);
    expect(b.dataset.featureShape).toEqual([17]);
    const row = (ds: typeof a.dataset, r: number) => Array.from(ds.x.subarray(r * 17, (r + 1) * 17));
    // "red" is row 1 at site a and row 0 at site b: the identical encoding.
    expect(row(a.dataset, 1).slice(0, 16)).toEqual(row(b.dataset, 0).slice(0, 16));
    expect(row(a.dataset, 1)[categoryBucket('colour', 'red', 16)]).toBe(1);
    expect(row(a.dataset, 1).slice(0, 16).reduce((s, v) => s + v, 0)).toBe(1);
    // The numeric column follows the block at the same place.
    expect(row(a.dataset, 1)[16]).toBe(2);
    expect(row(b.dataset, 0)[16]).toBe(5);
    expect(a.schema.columns).toEqual([
      { name: 'colour', kind: 'categorical', width: 16, missing: 0, hashed: true },
      { name: 'size', kind: 'numeric', width: 1, missing: 0 },
    ]);
  });

  it('one-hot without buckets is fitted per site: the widths differ (why buckets exist)', () => {
    const a = encodeTabularRows(csv('label,colour\n0,blue\n1,red'), { labelColumn: 'label' });
    const b = encodeTabularRows(csv('label,colour\n0,green\n1,red\n1,yellow'), { labelColumn: 'label' });
    expect(a.dataset.featureShape).not.toEqual(b.dataset.featureShape);
  });

  it('the bucket depends on the column, the value and the count only (FNV-1a + fmix32, fixed values)', () => {
    // Fixed expectations: a change of the hash would misalign sites running different versions.
    expect(categoryBucket('colour', 'red', 2 ** 31)).toBe(categoryBucket('colour', 'red', 2 ** 31));
    expect([categoryBucket('colour', 'red', 1000), categoryBucket('colour', 'blue', 1000), categoryBucket('shade', 'red', 1000)]).toEqual([mix(FNV('colour\u0000red')) % 1000, mix(FNV('colour\u0000blue')) % 1000, mix(FNV('shade\u0000red')) % 1000]);
    expect(FNV('')).toBe(0x811c9dc5);
    expect(FNV('a')).toBe(0xe40c292c);
    expect(categoryBucket('c', 'v', 1)).toBe(0);
    expect(categoryBucket('c', 'é', 1 << 30)).toBe(mix(FNV('c\u0000é')) % (1 << 30));
    expect(mix(0)).toBe(0);
    expect(mix(1)).toBe(0x514e28b7);
  });

  it('a missing cell is NaN in all the column\'s buckets; a forced numeric-looking column is hashed too', () => {
    const t = encodeTabularRows(csv('label,zip,x\n0,123,1\n1,,2\n0,456,3'), { labelColumn: 'label', categorical: ['zip'], categoryBuckets: 4 });
    expect(t.dataset.featureShape).toEqual([5]);
    expect(Array.from(t.dataset.x.subarray(5, 9)).every(Number.isNaN)).toBe(true);
    expect(t.dataset.x[categoryBucket('zip', '123', 4)]).toBe(1);
    expect(t.schema.columns[0]).toMatchObject({ width: 4, missing: 1, hashed: true });
  });

  it.each([
    [0, false],
    [1, true],
    [65_536, true],
    [65_537, false],
    [2.5, false],
  ])('SiteDataOptions.categoryBuckets %s is accepted: %s', (n, ok) => {
    expect(SiteDataOptions.safeParse({ categoryBuckets: n }).success).toBe(ok);
  });
});

/** FNV-1a 32 bit over UTF-8, written out independently of the code under test. */
function FNV(text: string): number {
  let h = 2166136261;
  for (const b of Buffer.from(text, 'utf8')) {
    h = (h ^ b) >>> 0;
    h = Number((BigInt(h) * 16777619n) % 4294967296n);
  }
  return h;
}

/** MurmurHash3's fmix32, with BigInt arithmetic. */
function mix(h: number): number {
  const mul = (a: number, b: number) => Number((BigInt(a) * BigInt(b)) % 4294967296n);
  h = (h ^ (h >>> 16)) >>> 0;
  h = mul(h, 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  h = mul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
