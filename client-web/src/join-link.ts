import { sitePolicyFromJson, type SitePolicy } from '@fedtune/shared';

/** The fields a join link (`/site/?server=…&site=…&token=…&backend=…`) can prefill. */
export interface JoinLink {
  server: string;
  site?: string;
  token?: string;
  backend?: string;
  /** The site's policy as JSON text (`&policy=` + encodeURIComponent(JSON)); parsed with `browserSitePolicy`. */
  policy?: string;
}

/** Reads a join link; the coordinator defaults to the origin that served the page. */
export function parseJoinLink(href: string): JoinLink {
  const url = new URL(href);
  const q = url.searchParams;
  const opt = (k: string) => q.get(k)?.trim() || undefined;
  return { server: opt('server') ?? url.origin, site: opt('site'), token: opt('token'), backend: opt('backend'), ...(opt('policy') ? { policy: opt('policy') } : {}) };
}

/**
 * The browser site's policy (docs/site-policy.md): the same SitePolicy object as `fedtune client --policy`,
 * as JSON (the join link's ?policy= parameter). None: the default policy. A bad one throws one clear line.
 */
export function browserSitePolicy(text: string | undefined): SitePolicy | undefined {
  return text === undefined || text.trim() === '' ? undefined : sitePolicyFromJson(text, 'the site policy (?policy=)');
}
