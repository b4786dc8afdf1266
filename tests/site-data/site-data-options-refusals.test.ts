import { describe, expect, it } from 'vitest';
import { MAX_CATEGORY_BUCKETS, parseSiteDataOptions } from '@fedtune/shared';
import { readSiteData } from '@fedtune/client-node';
import { thrown } from '../helpers/thrown.ts';

/**
 * A site's data options out of range are one config line naming the `fedtune client` flag that sets them —
 * `--category-buckets 100000000` printed "fedtune: internal: [" (a schema's raw issue list) before.
 */
describe('site data options: each refusal names its flag', () => {
  it.each([
    ['--image-size', { image: { height: 5000 } }],
    ['--image-size', { image: { width: 0 } }],
    ['--channels', { image: { channels: 2 } }],
    ['--skip-bad-files', { skipBadFiles: 'yes' }],
    ['--feature-columns', { featureColumns: [] }],
    ['--categorical', { categorical: [''] }],
    ['--category-buckets', { categoryBuckets: MAX_CATEGORY_BUCKETS + 1 }],
    ['--category-buckets', { categoryBuckets: 0.5 }],
    ['--text-column', { textColumn: '' }],
    ['--drop-duplicates', { dropDuplicates: 1 }],
    ['--impute', { impute: 'mode' }],
    ['--class-weights', { classWeights: 'inverse' }],
  ])('%s: %j', (flag, input) => {
    const error = thrown(() => parseSiteDataOptions(input));
    expect(error.code).toBe('config');
    expect(error.message).toMatch(new RegExp(`^${flag}( \\(item \\d+\\))?: \\S`));
    expect(error.message).not.toContain('\n');
  });

  it('a field no flag sets is named by its path; the whole object by "data options"; valid input gets the defaults', () => {
    expect(() => parseSiteDataOptions({ image: { depth: 3 } })).toThrow(/^image: Unrecognized key: "depth"$/);
    expect(() => parseSiteDataOptions(7)).toThrow(/^data options: /);
    expect(() => parseSiteDataOptions({ categorical: ['a', 'b', ''] })).toThrow(/^--categorical \(item 3\): Too small/);
    expect(parseSiteDataOptions({ categoryBuckets: MAX_CATEGORY_BUCKETS })).toMatchObject({ categoryBuckets: MAX_CATEGORY_BUCKETS, image: { height: 28, width: 28, channels: 1 }, impute: 'none' });
  });

  it('readSiteData refuses them before reading anything', () => {
    expect(() => readSiteData('/nonexistent.csv', { categoryBuckets: 100_000_000 })).toThrow(`--category-buckets: Too big: expected number to be <=${MAX_CATEGORY_BUCKETS}`);
  });
});
