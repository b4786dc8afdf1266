import { FedtuneError, VIRTUAL_SITE_EXAMPLES, type PartitionSpec } from '@fedtune/shared';

/**
 * How a simulation of the built-in digits task gives its sites data (`fedtune simulate --site-data`):
 *   partition     — disjoint shares of the 7,900-digit pool (--partition), all made before the run;
 *   resample:N    — virtual sites: each draws N digits with replacement from the pool, from the run's seed and
 *                   its index, made when it is sampled and dropped after (memory flat in the number of sites).
 * Not given: partition while the pool gives every site at least PARTITION_MIN_EXAMPLES digits, else resample.
 */
export type SimulationSiteData = { mode: 'partition' } | { mode: 'resample'; examples: number };

/** The fewest digits a partitioned site gets (partitionIndices' minimum). */
export const PARTITION_MIN_EXAMPLES = 10;
/** Digits per virtual site when resampling is chosen automatically. */
export const AUTO_RESAMPLE_EXAMPLES = 40;

/** Parses `partition` or `resample:N`. */
export function parseSiteDataSpec(text: string): SimulationSiteData {
  if (text === 'partition') return { mode: 'partition' };
  const m = /^resample:(\d{1,6})$/.exec(text);
  const examples = m ? Number(m[1]) : NaN;
  if (!m) throw new FedtuneError('config', `site data takes partition or resample:N, got "${text.slice(0, 32)}"`);
  if (examples < VIRTUAL_SITE_EXAMPLES.min || examples > VIRTUAL_SITE_EXAMPLES.max) {
    throw new FedtuneError('config', `resample:N takes N in ${VIRTUAL_SITE_EXAMPLES.min}..${VIRTUAL_SITE_EXAMPLES.max}, got ${examples}`);
  }
  return { mode: 'resample', examples };
}

/** The site data a simulation runs, and whether it was chosen for the user (then `reason` says why). */
export interface ChosenSiteData {
  siteData: SimulationSiteData;
  automatic: boolean;
  reason?: string;
}

/** The requested site data, or the automatic choice for `sites` sites over a pool of `poolSize` digits. */
export function chooseSiteData(requested: SimulationSiteData | undefined, sites: number, poolSize: number): ChosenSiteData {
  if (requested) return { siteData: requested, automatic: false };
  if (sites * PARTITION_MIN_EXAMPLES <= poolSize) return { siteData: { mode: 'partition' }, automatic: true };
  return {
    siteData: { mode: 'resample', examples: AUTO_RESAMPLE_EXAMPLES },
    automatic: true,
    reason: `${sites} sites × ${PARTITION_MIN_EXAMPLES} digits is more than the pool's ${poolSize}`,
  };
}

/**
 * The label skew of resampled sites from a partition spec: iid (none) or dirichlet:α; others have no meaning here.
 * `takes` names who refuses another (simulate's --site-data resample; the worker's own --partition).
 */
export function resampleAlpha(partition: PartitionSpec, takes = '--site-data resample takes --partition'): number | undefined {
  if (partition.kind === 'iid') return undefined;
  if (partition.kind === 'dirichlet') return partition.alpha;
  throw new FedtuneError('config', `${takes} iid or dirichlet:ALPHA, not ${partition.kind}`);
}

/** One line for the output: which data the sites hold. */
export function describeSiteData(chosen: ChosenSiteData, poolSize: number): string {
  const how = chosen.automatic ? ` (chosen automatically${chosen.reason ? `: ${chosen.reason}` : ''}; --site-data sets it)` : '';
  if (chosen.siteData.mode === 'partition') return `site data: partition — disjoint shares of the ${poolSize}-digit pool${how}`;
  return `site data: resample:${chosen.siteData.examples} — each site draws ${chosen.siteData.examples} digits with replacement from the ${poolSize}-digit pool (seeded by the run's seed and its index), made when it is sampled and dropped after${how}`;
}
