import { deriveSeed, FedtuneError, parsePartitionSpec, type Dataset } from '@fedtune/shared';
import { builtinDigitsSites, readCsvDataset } from '@fedtune/shared/node';

/**
 * Loads a site's private data. Either a CSV file (a header row, an integer label column, numeric features),
 * or the built-in digits task's share for one site: `digits:K/N[:PARTITION][@SEED]`, e.g. `digits:3/8`,
 * `digits:3/8:iid@7` (site K of N, partition dirichlet:0.5 and seed 42 unless given).
 */
export function loadSiteData(spec: string, options: { labelColumn?: string; numClasses?: number } = {}): Dataset {
  const m = /^digits:(\d+)\/(\d+)(?::([a-z]+(?::[0-9.]+)?))?(?:@(\d+))?$/.exec(spec);
  if (m) {
    const k = Number(m[1]);
    const n = Number(m[2]);
    if (k < 1 || k > n) throw new FedtuneError('config', `digits site ${k} is outside 1..${n}`);
    const sites = builtinDigitsSites({ sites: n, partition: parsePartitionSpec(m[3] ?? 'dirichlet:0.5'), seed: Number(m[4] ?? 42) });
    return sites[k - 1];
  }
  if (spec.startsWith('digits')) throw new FedtuneError('config', `cannot read "${spec}": use digits:K/N[:PARTITION][@SEED]`);
  // Classes come from the labels here; the model the coordinator sends decides (fit-data-to-model.ts).
  return readCsvDataset(spec, options);
}

/**
 * The run seed a site's split derives from: `--seed` if given, else the seed of a `digits:K/N@SEED` spec,
 * else `fallback` (the run configuration's default). With the coordinator's seed, the site splits its data
 * exactly as `fedtune simulate --seed` does.
 */
export function siteRunSeed(spec: string, given: number | undefined, fallback: number): number {
  if (given !== undefined) return given;
  const m = /^digits:[^@]*@(\d+)$/.exec(spec);
  return m ? Number(m[1]) : fallback;
}

/** The seed of a site's train/validation/test split in run `runSeed` (the same in simulate and in `fedtune client`). */
export function siteSplitSeed(runSeed: number, siteId: string): number {
  return deriveSeed(runSeed, 'split', siteId);
}
