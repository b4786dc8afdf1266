import { deriveSeed, type PrivacyLedger, SiteClient, socketIoConnector, splitDataset, type Dataset, type SiteClasses, type SiteEvent, type SiteOutcome, type SitePolicy, type Splits, type TextSplits } from '@fedtune/shared';

export interface BrowserSiteOptions {
  server: string;
  siteId: string;
  token?: string;
  splits: Splits;
  /** A text site's raw texts (then `splits` holds their labels only): tokenized with the vocabulary the run's model brings. */
  textData?: TextSplits;
  backend: string;
  onEvent: (event: SiteEvent) => void;
  /** This site's privacy ledger (LocalStoragePrivacyLedger in the page). */
  privacyLedger?: PrivacyLedger;
  /** What this site consents to (browserSitePolicy); absent: the default policy. */
  policy?: SitePolicy;
  /** Named labels: the site's class names, renumbered to the run's (siteClassesOf). */
  siteClasses?: SiteClasses;
}

/** The same train/validation/test split a Node site makes of its data (seeded by the site name). */
export function splitSiteData(data: Dataset, siteId: string): Splits {
  return splitDataset(data, deriveSeed(0, 'split', siteId));
}

export interface BrowserSite {
  /** Resolves when the run completes or the connection closes. */
  outcome: Promise<SiteOutcome>;
  leave(): void;
}

/**
 * Joins a run from this tab. The learning is the shared SiteClient, exactly as in client-node; only the
 * data loading and the tfjs backend are the browser's.
 */
export function startBrowserSite(options: BrowserSiteOptions): BrowserSite {
  const client = new SiteClient({
    siteId: options.siteId,
    token: options.token,
    connector: socketIoConnector({ url: options.server }),
    modelServer: options.server,
    data: options.splits,
    ...(options.textData ? { textData: options.textData } : {}),
    backend: options.backend,
    runtime: 'browser',
    onEvent: options.onEvent,
    ...(options.privacyLedger ? { privacyLedger: options.privacyLedger } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.siteClasses ? { siteClasses: options.siteClasses } : {}),
  });
  return { outcome: client.run(), leave: () => client.stop() };
}
