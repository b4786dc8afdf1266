import type { Hello, SiteLink } from '@fedtune/shared';
import type { HelloVerdict } from '../engine/round-engine.ts';
import { DEFAULT_HELLOS_PER_MINUTE, helloRateLimit, RateLimiter } from './rate-limiter.ts';
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
  /** Hello attempts per address per minute, to slow token guessing (default 30); false: no limit. */
  hellosPerMinute?: number | false;
  /** The remote address of a connection; without one, hellos are not rate limited (e.g. in memory). */
  addressOf?: (link: SiteLink) => string | undefined;
  /** Told about every refused hello (for the coordinator's log). */
  onRefusal?: (refusal: HelloRefusal) => void;
  now?: () => number;
}

/**
 * Builds the round engine's `authorize`: a hello joins only with a valid, unrevoked token for the site
 * name it claims. The engine then binds the connection to that name, so a site can only ever submit
 * results as itself.
 */
export function siteAuthorizer(options: SiteAuthorizerOptions): (hello: Hello, link: SiteLink) => HelloVerdict {
  const perMinute = options.hellosPerMinute ?? DEFAULT_HELLOS_PER_MINUTE;
  const limiter = perMinute === false ? undefined : new RateLimiter(helloRateLimit(perMinute), options.now);
  return (hello, link) => {
    const address = options.addressOf?.(link);
    const refuse = (code: HelloRefusal['code'], reason: string): HelloVerdict => {
      options.onRefusal?.({ siteId: hello.siteId, address, code, reason });
      return { ok: false, code, reason };
    };
    if (limiter && address !== undefined) {
      const d = limiter.take(address);
      if (!d.ok) return refuse('rate_limited', `too many join attempts from ${address}; retry in ${Math.ceil(d.retryAfterMs / 1000)} s`);
    }
    if (!(options.requireTokens ?? options.store.size > 0)) return true;
    const verdict = options.store.verify(hello.siteId, hello.token);
    if (verdict.ok) return true;
    const hint =
      verdict.reason === 'token required'
        ? ' (this coordinator requires site tokens: pass --token)'
        : verdict.reason === 'unknown site'
          ? ' (register it with `fedtune sites add NAME` on the coordinator)'
          : '';
    return refuse('unauthorized', `site ${hello.siteId} refused: ${verdict.reason}${hint}`);
  };
}
