import { nodeSecAggPrimitives } from '@fedtune/shared/node';
import { checkVirtualDigitsSpec, deriveSeed, FedtuneError, MAX_VIRTUAL_SITE_INDEX, SiteClient, splitDataset, virtualDigitsSite, virtualSiteName, type ClientConnector, type Dataset, type fitLocal, type LazySiteData, type SiteEvent, type SiteOutcome, type SitePolicy, type Splits, type UpdateHook, type VirtualDigitsSpec } from '@fedtune/shared';

/**
 * The virtual sites of one process (fedtune worker, fedtune simulate --site-data resample:N): each site's
 * data is made from (seed, index) when an instruction needs it and dropped once it is answered, so a site
 * that is not sampled holds no dataset. Counts what is made, for tests and the worker's summary.
 */
export class VirtualDigitsSites {
  /** Datasets made and not yet released (0 between instructions). */
  live = 0;
  /** Most datasets live at once. */
  peakLive = 0;
  /** Datasets made in all. */
  materialised = 0;
  /** Told every dataset made (tests check that a site's data is the same each time). */
  onLoad?: (index: number, splits: Splits) => void;

  constructor(
    private readonly pool: Dataset,
    readonly spec: VirtualDigitsSpec,
  ) {
    checkVirtualDigitsSpec(spec);
  }

  /** Virtual site `index`'s data, made on demand: split like any site's (seeded by the run's seed and its id). */
  data(index: number): LazySiteData {
    return new VirtualSiteData(this, index);
  }

  /** Makes virtual site `index`'s splits (counted: `release` of its VirtualSiteData uncounts them). */
  make(index: number, firstLoad: boolean): Splits {
    const splits = splitDataset(virtualDigitsSite(this.pool, index, this.spec), deriveSeed(this.spec.seed, 'split', virtualSiteName(index)));
    if (firstLoad) {
      this.live++;
      this.peakLive = Math.max(this.peakLive, this.live);
    }
    this.materialised++;
    this.onLoad?.(index, splits);
    return splits;
  }
}

/** One virtual site's lazy data: its index and whether it is loaded (no closures: an idle site costs a few bytes). */
class VirtualSiteData implements LazySiteData {
  readonly lazy = true;
  private loaded = false;

  constructor(
    private readonly sites: VirtualDigitsSites,
    private readonly index: number,
  ) {}

  /** splitDataset's default shares: 10% test, 10% validation, the rest trains. */
  get trainExamples(): number {
    const n = this.sites.spec.examples;
    return n - 2 * Math.round(n * 0.1);
  }

  load(): Splits {
    const splits = this.sites.make(this.index, !this.loaded);
    this.loaded = true;
    return splits;
  }

  release(): void {
    if (!this.loaded) return;
    this.loaded = false;
    this.sites.live--;
  }
}

/** A range of virtual site indices, first..last inclusive. */
export interface VirtualSiteRange {
  first: number;
  last: number;
}

/** Parses `A-B` (indices, A ≤ B): the virtual sites a worker hosts. */
export function parseVirtualSiteRange(text: string): VirtualSiteRange {
  const m = /^(\d{1,7})-(\d{1,7})$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m ? Number(m[2]) : NaN;
  if (!m || first > last || last > MAX_VIRTUAL_SITE_INDEX) {
    throw new FedtuneError('config', `virtual sites take A-B, indices 0 ≤ A ≤ B ≤ ${MAX_VIRTUAL_SITE_INDEX}, got "${text.slice(0, 32)}"`);
  }
  return { first, last };
}

export interface RunVirtualSitesOptions {
  sites: VirtualDigitsSites;
  range: VirtualSiteRange;
  /** A new connection for each site (one socket.io connection per virtual site, or the in-memory network). */
  connector: () => ClientConnector;
  backend: string;
  token?: string;
  fit?: typeof fitLocal;
  hooks?: Record<string, UpdateHook>;
  /** Heartbeat interval of every site (default SiteClient's). */
  heartbeatMs?: number;
  reconnectRetries?: number;
  /** Every site's policy (docs/site-policy.md; default: none, so the default policy). */
  policy?: SitePolicy;
  onEvent?: (siteId: string, event: SiteEvent) => void;
}

/** Runs the virtual sites of a range — the same SiteClient as any site, with lazy data — until the run ends. */
export function runVirtualSites(options: RunVirtualSitesOptions): Array<Promise<SiteOutcome>> {
  const runs: Array<Promise<SiteOutcome>> = [];
  for (let index = options.range.first; index <= options.range.last; index++) {
    const siteId = virtualSiteName(index);
    const client = new SiteClient({
      siteId,
      token: options.token,
      connector: options.connector(),
      data: options.sites.data(index),
      backend: options.backend,
      runtime: 'node',
      // Secure aggregation's ChaCha20 and X25519 by OpenSSL, as every Node site's (the same bytes as @noble's).
      secAggPrimitives: nodeSecAggPrimitives,
      ...(options.fit ? { fit: options.fit } : {}),
      ...(options.hooks?.[siteId] ? { updateHook: options.hooks[siteId] } : {}),
      ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
      // No quick start-up retries (STARTUP_RETRY): thousands of sites in one process retrying every 100 ms would
      // flood a coordinator that is still starting; they back off from the first failure.
      reconnect: { retries: options.reconnectRetries ?? 10, startupWindowMs: 0 },
      onEvent: options.onEvent ? (e) => options.onEvent!(siteId, e) : undefined,
    });
    runs.push(client.run());
  }
  return runs;
}

