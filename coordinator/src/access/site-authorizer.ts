import { clipText, type Hello, type SiteLink } from '@fedtune/shared';
import type { HelloVerdict } from '../engine/site-connections.ts';
import { addressKey } from './address-key.ts';
import { DEFAULT_HELLOS_PER_MINUTE, DEFAULT_OPEN_JOIN_BURST, DEFAULT_OPEN_JOINS_PER_MINUTE, helloRateLimit, RateLimiter, type RateLimit } from './rate-limiter.ts';
import type { SiteTokenStore } from './site-token-store.ts';

export interface HelloRefusal {
  siteId: string;
  address?: string;
  code: 'unauthorized' | 'rate_limited';
  reason: string;
}

export interface SiteAuthorizerOptions {
  store: SiteTokenStore;
  /**
   * Require a valid token from every site. Default: required as soon as the registry holds a site
   * (revoked ones count), checked at every hello, so `fedtune sites add` closes an open coordinator at once.
   */
  requireTokens?: boolean;
  /**
   * Failed join attempts (bad or missing token) per address, and per claimed site name, per minute
   * (default 30); beyond it they are answered `rate_limited`. false: no limit.
   */
  hellosPerMinute?: number | false;
  /**
   * Joins without a token (an open coordinator: tokens not required) per address (an IPv6 peer by its /64) per
   * minute, as a token bucket with bursts of `openJoinBurst`; past it a hello is answered `rate_limited`, saying
   * when to retry. Default 60 a minute in bursts of 2,048 (a gateway of 1,000 sites joining, and all of them again
   * after a network blip); false or 0: no limit. Without it one peer joining an open coordinator under endless
   * fresh names grew its audit log and database ~4 MB a minute. Joins with a valid token are never counted.
   */
  openJoinsPerMinute?: number | false;
  openJoinBurst?: number;
  /** The remote address of a connection; without one, only the per-name limit applies (e.g. in memory). */
  addressOf?: (link: SiteLink) => string | undefined;
  /**
   * Told about refused hellos (for the coordinator's log); fields are clipped. Every refusal for a bad or missing
   * token, and of those refused for the rate limit the first per address (or name) a minute: a peer that keeps
   * trying past the limit — a refusal costs it a connection — cannot write the log a line each time.
   */
  onRefusal?: (refusal: HelloRefusal) => void;
  now?: () => number;
}

/**
 * Builds the round engine's `authorize`: a hello joins only with a valid, unrevoked token for the site
 * name it claims (the engine then binds the connection to that name, so a site can only ever submit
 * results as itself), or freely when tokens are not required.
 *
 * With tokens, the limits count failed attempts only, per address and per claimed name, and only ever
 * change the answer to a hello that is refused anyway: a hello with a valid token always joins, so another
 * party's burst from the same address (or a gateway shared by many sites) can never lock out an honest site.
 * Without tokens every hello for a free name joins, up to `openJoinsPerMinute` per address.
 */
/** What a peer is told for a hello naming an unregistered site or presenting a wrong token: the same words for both. */
export const UNKNOWN_SITE_OR_INVALID_TOKEN = 'unknown site or invalid token (a site is registered with `fedtune sites add NAME` on the coordinator, which prints its token once)';

/** How often a rate-limited hello refusal is told to onRefusal, per address or name: once a minute. */
export const RATE_LIMITED_REFUSALS_TOLD: RateLimit = { ratePerSecond: 1 / 60, burst: 1 };

export function siteAuthorizer(options: SiteAuthorizerOptions): (hello: Hello, link: SiteLink) => HelloVerdict {
  const perMinute = options.hellosPerMinute ?? DEFAULT_HELLOS_PER_MINUTE;
  const perAddress = perMinute === false ? undefined : new RateLimiter(helloRateLimit(perMinute), options.now);
  const perName = perMinute === false ? undefined : new RateLimiter(helloRateLimit(perMinute), options.now);
  const openPerMinute = options.openJoinsPerMinute ?? DEFAULT_OPEN_JOINS_PER_MINUTE;
  const openBurst = options.openJoinBurst ?? DEFAULT_OPEN_JOIN_BURST;
  const openPerAddress = openPerMinute === false || openPerMinute === 0 ? undefined : new RateLimiter({ ratePerSecond: openPerMinute / 60, burst: openBurst }, options.now);
  /** Rate-limited refusals told to onRefusal: one a minute per address or name. */
  const toldRateLimited = new RateLimiter(RATE_LIMITED_REFUSALS_TOLD, options.now);
  return (hello, link) => {
    const address = options.addressOf?.(link);
    // An IPv6 peer is limited by its /64, not by each of its 2^64 addresses (address-key.ts).
    const key = address === undefined ? undefined : addressKey(address);
    // `reason` goes to the coordinator's log; the peer gets `told` (the same unless it would say more than the peer may know).
    const refuse = (code: HelloRefusal['code'], reason: string, rateLimitedKey?: string, told = reason): HelloVerdict => {
      if (rateLimitedKey === undefined || toldRateLimited.take(rateLimitedKey).ok) options.onRefusal?.({ siteId: clipText(hello.siteId, 128), address: address === undefined ? undefined : clipText(address, 64), code, reason: clipText(reason) });
      return { ok: false, code, reason: told };
    };
    if (!(options.requireTokens ?? options.store.size > 0)) {
      const open = key === undefined ? undefined : openPerAddress?.take(key);
      if (open && !open.ok) return refuse('rate_limited', `more than ${openPerMinute} joins a minute (bursts of ${openBurst}) without a site token from ${key}; retry in ${Math.ceil(open.retryAfterMs / 1000)} s`, `open ${key}`);
      return { ok: true, authenticated: false };
    }
    // A site on a cluster's follower: the follower checked its token (which does not cross Redis) and relayed the verdict.
    const verdict = link.tokenVerdict ?? options.store.verify(hello.siteId, hello.token);
    if (verdict.ok) return { ok: true, authenticated: true };
    // Both buckets are charged, so neither a spread of names nor a spread of addresses escapes the limit.
    const byAddress = key === undefined ? undefined : perAddress?.take(key);
    const byName = perName?.take(hello.siteId);
    if (byAddress && !byAddress.ok) return refuse('rate_limited', `too many join attempts from ${key}; retry in ${Math.ceil(byAddress.retryAfterMs / 1000)} s`, `address ${key}`);
    if (byName && !byName.ok) return refuse('rate_limited', `too many join attempts as ${hello.siteId}; retry in ${Math.ceil(byName.retryAfterMs / 1000)} s`, `name ${hello.siteId}`);
    const hint =
      verdict.reason === 'token required'
        ? ' (this coordinator requires site tokens: pass --token)'
        : verdict.reason === 'unknown site'
          ? ' (register it with `fedtune sites add NAME` on the coordinator)'
          : '';
    // Which of "unknown site" and "invalid token" it was stays in the coordinator's log: told apart, they would let
    // anyone list the registered site names (the consortium's members) one hello at a time.
    const told = verdict.reason === 'unknown site' || verdict.reason === 'invalid token' ? `site ${hello.siteId} refused: ${UNKNOWN_SITE_OR_INVALID_TOKEN}` : undefined;
    return refuse('unauthorized', `site ${hello.siteId} refused: ${verdict.reason}${hint}`, undefined, told);
  };
}
