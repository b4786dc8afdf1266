/** The fields a join link (`/site/?server=…&site=…&token=…&backend=…`) can prefill. */
export interface JoinLink {
  server: string;
  site?: string;
  token?: string;
  backend?: string;
}

/** Reads a join link; the coordinator defaults to the origin that served the page. */
export function parseJoinLink(href: string): JoinLink {
  const url = new URL(href);
  const q = url.searchParams;
  const opt = (k: string) => q.get(k)?.trim() || undefined;
  return { server: opt('server') ?? url.origin, site: opt('site'), token: opt('token'), backend: opt('backend') };
}
