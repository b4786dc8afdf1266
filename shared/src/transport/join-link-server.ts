import { FedtuneError } from '../errors.ts';

/**
 * The coordinator a browser join link names (`/site/?server=…`), read the same way by the page (which asks before
 * connecting to another origin) and by the coordinator (which lets the page's CSP connect there and nowhere else).
 */
export interface JoinLinkServer {
  /** What the site connects to: the origin and the path prefix, if any (server-url.ts), no query, hash or credentials. */
  url: string;
  /** The origin alone (`https://coord.example:8443`): what the page shows the user and compares with its own. */
  origin: string;
}

/** Longest `?server=` read (a URL longer than this is no coordinator's address, and is attacker text to show). */
export const MAX_JOIN_SERVER_CHARS = 2048;

/** Longest origin accepted: a DNS name is at most 253 characters, plus scheme and port. */
export const MAX_JOIN_SERVER_ORIGIN_CHARS = 280;

/**
 * Parses a join link's `?server=`: an absolute http(s) URL without credentials. Throws one line (FedtuneError
 * 'config') that never quotes the text itself: it comes from whoever wrote the link.
 */
export function parseJoinLinkServer(text: string): JoinLinkServer {
  const bad = (why: string) => new FedtuneError('config', `the join link's coordinator (?server=) ${why}; this page connects only to the coordinator that served it`);
  if (text.length > MAX_JOIN_SERVER_CHARS) throw bad(`is longer than ${MAX_JOIN_SERVER_CHARS} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('is not an http(s) URL');
  if (url.username || url.password) throw bad('carries a user name or password');
  // A DNS name or an IPv4 address: the origin goes into the page's CSP header (site-csp.ts), where a host with
  // `;`, `,`, `*` or `'` (all allowed in URL hosts) would add sources or directives of the attacker's choosing.
  if (!/^[a-z0-9.-]+$/.test(url.hostname)) throw bad('has a host that is not a DNS name or an IPv4 address');
  if (url.origin.length > MAX_JOIN_SERVER_ORIGIN_CHARS) throw bad(`has an origin longer than ${MAX_JOIN_SERVER_ORIGIN_CHARS} characters`);
  return { url: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, origin: url.origin };
}

/**
 * The `?server=` of a join link's query string (the first one, trimmed, as URLSearchParams reads it); undefined
 * when the link names none.
 */
export function joinLinkServerParam(search: string): string | undefined {
  return new URLSearchParams(search).get('server')?.trim() || undefined;
}
