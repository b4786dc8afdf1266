import { describe, expect, it } from 'vitest';
import { checkVirtualDigitsSpec, virtualDigitsSite, virtualSiteName, VIRTUAL_SITE_EXAMPLES, MAX_VIRTUAL_SITE_INDEX, FedtuneError, isLazySiteData, trainExamplesOf, splitDataset } from '@fedtune/shared';
import { parseVirtualSiteRange, VirtualDigitsSites } from '@fedtune/client-node';
import { builtinDigits } from '@fedtune/shared/node';
import { AUTO_RESAMPLE_EXAMPLES, chooseSiteData, describeSiteData, parseSiteDataSpec, PARTITION_MIN_EXAMPLES, resampleAlpha } from '../../cli/src/simulation/simulation-site-data.ts';
import { thrown } from '../helpers/thrown.ts';

const pool = builtinDigits().pool;
const spec = { seed: 5, examples: 40, alpha: 0.5 };

function classesOf(y: Int32Array): number {
  return new Set(y).size;
}

describe('virtual digits sites: data from (seed, site index)', () => {
  it('are the same every time they are made, in a fresh population too, and differ by index and by seed', () => {
    const a = virtualDigitsSite(pool, 42, spec);
    const b = virtualDigitsSite(pool, 42, spec);
    expect(Buffer.from(a.x.buffer).equals(Buffer.from(b.x.buffer))).toBe(true);
    expect([...a.y]).toEqual([...b.y]);
    const sitesA = new VirtualDigitsSites(pool, spec);
    const sitesB = new VirtualDigitsSites(pool, spec);
    const first = sitesA.data(42).load();
    const second = sitesB.data(42).load();
    expect(Buffer.from(first.train.x.buffer).equals(Buffer.from(second.train.x.buffer))).toBe(true);
    expect([...first.test.y]).toEqual([...second.test.y]);
    const otherIndex = virtualDigitsSite(pool, 43, spec);
    const otherSeed = virtualDigitsSite(pool, 42, { ...spec, seed: 6 });
    expect([...otherIndex.y]).not.toEqual([...a.y]);
    expect([...otherSeed.y]).not.toEqual([...a.y]);
  });

  it.each([10, 40, 123])('holds exactly %i examples of the pool (with replacement), shaped like it', (examples) => {
    const ds = virtualDigitsSite(pool, 7, { seed: 1, examples });
    expect(ds.y.length).toBe(examples);
    expect(ds.x.length).toBe(examples * 784);
    expect(ds.featureShape).toEqual([784]);
    expect(ds.numClasses).toBe(10);
    for (const y of ds.y) expect(y >= 0 && y < 10).toBe(true);
  });

  it('draws labels skewed by alpha: small alpha gives few classes, no alpha (IID) nearly all of them', () => {
    let skewed = 0;
    let iid = 0;
    for (let i = 0; i < 20; i++) {
      skewed += classesOf(virtualDigitsSite(pool, i, { seed: 3, examples: 100, alpha: 0.05 }).y);
      iid += classesOf(virtualDigitsSite(pool, i, { seed: 3, examples: 100 }).y);
    }
    expect(skewed / 20).toBeLessThan(4);
    expect(iid / 20).toBeGreaterThan(9.5);
  });

  it('renders through the site scanner with feature shift (default) and copies pool images without it', () => {
    const clean = virtualDigitsSite(pool, 3, { seed: 2, examples: 20, featureShift: false });
    const shifted = virtualDigitsSite(pool, 3, { seed: 2, examples: 20 });
    expect([...clean.y]).toEqual([...shifted.y]);
    // Without feature shift every image is one of the pool's, byte for byte.
    const poolImages = new Set<string>();
    for (let i = 0; i < pool.y.length; i++) poolImages.add(Buffer.from(pool.x.buffer, pool.x.byteOffset + i * 784 * 4, 784 * 4).toString('base64'));
    const isPoolImage = (x: Float32Array, k: number) => poolImages.has(Buffer.from(x.buffer, k * 784 * 4, 784 * 4).toString('base64'));
    expect(Array.from({ length: 20 }, (_, k) => isPoolImage(clean.x, k)).every(Boolean)).toBe(true);
    expect(Array.from({ length: 20 }, (_, k) => isPoolImage(shifted.x, k)).some(Boolean)).toBe(false);
  });

  it.each([
    [{ seed: 1, examples: VIRTUAL_SITE_EXAMPLES.min - 1 }, 'holds 10..10000 examples, got 9'],
    [{ seed: 1, examples: VIRTUAL_SITE_EXAMPLES.max + 1 }, 'got 10001'],
    [{ seed: 1, examples: 20.5 }, 'got 20.5'],
    [{ seed: 1, examples: 20, alpha: 0 }, 'alpha must be > 0, got 0'],
    [{ seed: 1, examples: 20, alpha: Number.NaN }, 'alpha must be > 0, got NaN'],
    [{ seed: -1, examples: 20 }, 'seed must be an integer ≥ 0, got -1'],
  ])('refuses spec %j with a typed error', (bad, message) => {
    const err = thrown(() => checkVirtualDigitsSpec(bad));
    expect(err).toBeInstanceOf(FedtuneError);
    expect((err as FedtuneError).code).toBe('config');
    expect((err as Error).message).toContain(message);
  });

  it('accepts the bounds of the spec and of the index', () => {
    expect(() => checkVirtualDigitsSpec({ seed: 0, examples: VIRTUAL_SITE_EXAMPLES.min })).not.toThrow();
    expect(() => checkVirtualDigitsSpec({ seed: 0, examples: VIRTUAL_SITE_EXAMPLES.max, alpha: 1e-3 })).not.toThrow();
    expect(virtualDigitsSite(pool, MAX_VIRTUAL_SITE_INDEX, { seed: 0, examples: 10 }).y.length).toBe(10);
    expect(thrown(() => virtualDigitsSite(pool, MAX_VIRTUAL_SITE_INDEX + 1, { seed: 0, examples: 10 }))).toBeInstanceOf(FedtuneError);
    expect(thrown(() => virtualDigitsSite(pool, -1, { seed: 0, examples: 10 }))).toBeInstanceOf(FedtuneError);
  });

  it.each([
    [0, 'v-00000'],
    [42, 'v-00042'],
    [99_999, 'v-99999'],
    [123_456, 'v-123456'],
  ])('site %i is named %s', (index, name) => expect(virtualSiteName(index)).toBe(name));
});

describe('VirtualDigitsSites: lazy data, counted', () => {
  it('makes a site only on load, counts it live until released, and announces the train size of the split', () => {
    const sites = new VirtualDigitsSites(pool, { seed: 9, examples: 40 });
    const data = sites.data(7);
    expect(isLazySiteData(data)).toBe(true);
    expect(sites.materialised).toBe(0);
    expect(sites.live).toBe(0);
    const splits = data.load();
    expect(trainExamplesOf(data)).toBe(splits.train.y.length);
    expect(splits.train.y.length).toBe(32);
    expect(splits.test.y.length + splits.validation.y.length).toBe(8);
    expect([sites.live, sites.peakLive, sites.materialised]).toEqual([1, 1, 1]);
    const other = sites.data(8);
    other.load();
    expect([sites.live, sites.peakLive, sites.materialised]).toEqual([2, 2, 2]);
    data.release();
    data.release(); // a second release of the same load changes nothing
    expect(sites.live).toBe(1);
    other.release();
    expect([sites.live, sites.peakLive, sites.materialised]).toEqual([0, 2, 2]);
    expect(trainExamplesOf(splitDataset(virtualDigitsSite(pool, 1, { seed: 9, examples: 40 }), 1))).toBe(32);
  });

  it.each([10, 11, 15, 16, 25, 99])('announces the train size of %i examples exactly as the split makes it', (examples) => {
    const sites = new VirtualDigitsSites(pool, { seed: 1, examples });
    const data = sites.data(0);
    expect(data.trainExamples).toBe(data.load().train.y.length);
  });

  it('tells onLoad every dataset it makes: the same site, the same splits', () => {
    const sites = new VirtualDigitsSites(pool, { seed: 4, examples: 20 });
    const seen: string[] = [];
    sites.onLoad = (index, s) => seen.push(`${index}:${Buffer.from(s.train.x.buffer).toString('base64').slice(0, 64)}:${[...s.train.y].join('')}`);
    sites.data(3).load();
    sites.data(3).load();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
  });
});

describe('--virtual-sites A-B', () => {
  it.each([
    ['0-199', { first: 0, last: 199 }],
    ['5-5', { first: 5, last: 5 }],
    [`0-${MAX_VIRTUAL_SITE_INDEX}`, { first: 0, last: MAX_VIRTUAL_SITE_INDEX }],
  ])('parses %s', (text, range) => expect(parseVirtualSiteRange(text)).toEqual(range));

  it.each(['', '5', '9-3', '-1-4', '1-', 'a-b', `0-${MAX_VIRTUAL_SITE_INDEX + 1}`, '1.5-3'])('refuses "%s" with a typed error', (text) => {
    const err = thrown(() => parseVirtualSiteRange(text));
    expect(err).toBeInstanceOf(FedtuneError);
    expect((err as Error).message).toContain('virtual sites take A-B');
  });
});

describe('simulate --site-data', () => {
  it.each([
    ['partition', { mode: 'partition' }],
    ['resample:40', { mode: 'resample', examples: 40 }],
    [`resample:${VIRTUAL_SITE_EXAMPLES.min}`, { mode: 'resample', examples: 10 }],
    [`resample:${VIRTUAL_SITE_EXAMPLES.max}`, { mode: 'resample', examples: 10_000 }],
  ])('parses %s', (text, parsed) => expect(parseSiteDataSpec(text)).toEqual(parsed));

  it.each([
    ['resample', 'partition or resample:N'],
    ['resample:9', 'N in 10..10000, got 9'],
    ['resample:10001', 'got 10001'],
    ['resample:-5', 'partition or resample:N'],
    ['shards', 'partition or resample:N'],
  ])('refuses %s', (text, message) => expect((thrown(() => parseSiteDataSpec(text)) as Error).message).toContain(message));

  it('chooses partition while the pool gives every site 10 digits, resample:40 beyond, and keeps what was asked', () => {
    const poolSize = 7900;
    expect(PARTITION_MIN_EXAMPLES).toBe(10);
    expect(chooseSiteData(undefined, 790, poolSize)).toEqual({ siteData: { mode: 'partition' }, automatic: true });
    const auto = chooseSiteData(undefined, 791, poolSize);
    expect(auto.siteData).toEqual({ mode: 'resample', examples: AUTO_RESAMPLE_EXAMPLES });
    expect(auto.automatic).toBe(true);
    expect(auto.reason).toBe('791 sites × 10 digits is more than the pool\'s 7900');
    expect(chooseSiteData({ mode: 'partition' }, 5000, poolSize)).toEqual({ siteData: { mode: 'partition' }, automatic: false });
    expect(chooseSiteData({ mode: 'resample', examples: 12 }, 3, poolSize)).toEqual({ siteData: { mode: 'resample', examples: 12 }, automatic: false });
  });

  it('takes the label skew of resampled sites from --partition iid or dirichlet, and refuses the others', () => {
    expect(resampleAlpha({ kind: 'iid' })).toBeUndefined();
    expect(resampleAlpha({ kind: 'dirichlet', alpha: 0.3 })).toBe(0.3);
    expect((thrown(() => resampleAlpha({ kind: 'shards', k: 2 })) as Error).message).toContain('not shards');
    expect((thrown(() => resampleAlpha({ kind: 'quantity', alpha: 1 })) as Error).message).toContain('not quantity');
  });

  it('says which data the sites hold, and whether it was chosen for the user', () => {
    const auto = describeSiteData(chooseSiteData(undefined, 2000, 7900), 7900);
    expect(auto).toContain('resample:40');
    expect(auto).toContain('with replacement');
    expect(auto).toContain('chosen automatically: 2000 sites');
    const asked = describeSiteData({ siteData: { mode: 'resample', examples: 12 }, automatic: false }, 7900);
    expect(asked).toContain('draws 12 digits');
    expect(asked).not.toContain('automatically');
    expect(describeSiteData({ siteData: { mode: 'partition' }, automatic: true }, 7900)).toBe('site data: partition — disjoint shares of the 7900-digit pool (chosen automatically; --site-data sets it)');
  });
});
