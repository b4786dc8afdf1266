import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { builtinDigits, builtinDigitsSite, builtinDigitsSites, builtinDigitsSitesInParallel } from '@fedtune/shared/node';
import { loadSiteData } from '@fedtune/client-node';
import type { Dataset, DigitsSitesOptions } from '@fedtune/shared';

/** Renders with a worker thread and reports how many sites the worker rendered. */
async function inParallel(options: DigitsSitesOptions, extra: Parameters<typeof builtinDigitsSitesInParallel>[1] = {}) {
  let workerSites = -1;
  const sites = await builtinDigitsSitesInParallel(options, { threads: 2, ...extra, onWorkerSites: (n) => (workerSites = n) });
  return { sites, workerSites };
}

/** Datasets equal to the bit (byte comparison: toEqual on millions of floats takes seconds). */
function expectSameDatasets(a: Dataset[], b: Dataset[]): void {
  expect(a.length).toBe(b.length);
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  a.forEach((site, k) => {
    expect({ featureShape: site.featureShape, numClasses: site.numClasses, n: site.y.length }).toEqual({ featureShape: b[k].featureShape, numClasses: b[k].numClasses, n: b[k].y.length });
    expect(bytes(site.y).equals(bytes(b[k].y))).toBe(true);
    expect(bytes(site.x).equals(bytes(b[k].x))).toBe(true);
  });
}

describe('builtinDigitsSitesInParallel: the scanners’ rendering on this thread and a worker', () => {
  it.each([
    [{ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 }],
    [{ sites: 3, partition: { kind: 'iid' }, seed: 7 }],
  ] as Array<[DigitsSitesOptions]>)('%j: the same datasets to the bit as builtinDigitsSites, some rendered by the worker', async (options) => {
    const { sites, workerSites } = await inParallel(options);
    expect(workerSites).toBeGreaterThan(0);
    expect(workerSites).toBeLessThan(options.sites);
    expectSameDatasets(sites, builtinDigitsSites(options));
  }, 60_000);

  it.each([
    ['threads: 1', { threads: 1 }, { sites: 4, partition: { kind: 'iid' }, seed: 1 }],
    ['no feature shift (nothing to render)', {}, { sites: 4, partition: { kind: 'iid' }, seed: 1, featureShift: false }],
    ['one site', {}, { sites: 1, partition: { kind: 'iid' }, seed: 1 }],
  ] as Array<[string, { threads?: number }, DigitsSitesOptions]>)('%s: no worker, the same datasets', async (_, extra, options) => {
    const { sites, workerSites } = await inParallel(options, extra);
    expect(workerSites).toBe(0);
    expectSameDatasets(sites, builtinDigitsSites(options));
  });

  it.each([
    ['claims the last three sites and exits without rendering', 'const c = job.claims; for (const k of [c.length - 1, c.length - 2, c.length - 3]) Atomics.compareExchange(c, k, 0, 2); process.exit(0);'],
    ['throws on the job', 'throw new Error("render worker failed");'],
    ['claims the last site and hangs', 'Atomics.compareExchange(job.claims, job.claims.length - 1, 0, 2); for (;;) {}'],
  ])('a worker that %s: this thread renders its sites, the same datasets', async (_, body) => {
    const options: DigitsSitesOptions = { sites: 5, partition: { kind: 'iid' }, seed: 3 };
    const spawnWorker = () => new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.once('message', (job) => { ${body} });`, { eval: true });
    const { sites, workerSites } = await inParallel(options, { spawnWorker, workerTimeoutMs: 500 });
    expect(workerSites).toBe(0);
    expectSameDatasets(sites, builtinDigitsSites(options));
  }, 60_000);

  it.each([
    [{ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 }],
    [{ sites: 3, partition: { kind: 'iid' }, seed: 7, featureShift: false }],
  ] as Array<[DigitsSitesOptions]>)('builtinDigitsSite(k): site k of the federation, rendered alone (%j)', (options) => {
    const all = builtinDigitsSites(options);
    for (const k of [0, options.sites - 1]) expectSameDatasets([builtinDigitsSite(k, options)], [all[k]]);
    expect(() => builtinDigitsSite(options.sites, options)).toThrow(RangeError);
    expect(() => builtinDigitsSite(-1, options)).toThrow(RangeError);
  });

  it('fedtune client --data digits:K/N[:PARTITION][@SEED] loads site K of that federation', () => {
    const all = builtinDigitsSites({ sites: 4, partition: { kind: 'iid' }, seed: 9 });
    expectSameDatasets([loadSiteData('digits:3/4:iid@9')], [all[2]]);
    expectSameDatasets([loadSiteData('digits:1/8')], [builtinDigitsSites({ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 })[0]]);
  });

  it('the holdout is rendered on first use, the same images every time', () => {
    const a = builtinDigits().holdout;
    expect(builtinDigits().holdout).toBe(a);
    expect(a.y).toHaveLength(1500);
    expect(Buffer.from(a.x.buffer).equals(Buffer.from(builtinDigits().holdoutClean.x.buffer))).toBe(false);
  });
});
