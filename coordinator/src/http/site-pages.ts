import type { SitePage } from '../persistence/run-database.ts';
import { mergeSites, type SiteHistory, type SiteView } from './run-control.ts';

/** One page of a run's sites (`GET /api/runs/:id/sites`), and where the next one starts. */
export interface SitesPage {
  sites: SiteView[];
  /** The `after` of the next page; absent on the last. */
  next?: string;
}

/**
 * The sites of a run after `page.after`, at most `page.limit`, in id order: live ones (when this coordinator
 * drives the run) merged with the database's rows, as mergeSites does for the whole list. The database is
 * asked for at most limit + 1 + the live count rows: live ids found there are dropped, and one more than the
 * page says whether a next page exists.
 */
export function pageOfSites(runId: string, live: SiteView[] | undefined, history: SiteHistory | undefined, page: Required<SitePage>): SitesPage {
  const { after, limit } = page;
  const recorded = history?.listSites(runId, { after, limit: limit + 1 + (live?.length ?? 0) }) ?? [];
  // The recorded rows are all after the cursor, so live sites before it can be left out before merging.
  const merged = mergeSites(live?.filter((s) => s.siteId > after), recorded);
  if (merged.length <= limit) return { sites: merged };
  const sites = merged.slice(0, limit);
  return { sites, next: sites[limit - 1]!.siteId };
}
