import type { FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import { FedtuneError } from '@fedtune/shared';
import { RateLimiter, type RateLimit } from '../access/rate-limiter.ts';
import { addressKey } from '../access/address-key.ts';

/**
 * The part of the routed path a bucket is kept for: `/api/runs/:id` → `api`, `/metrics` → `metrics`,
 * `/docs/json` → `docs`, model bytes (`/api/v1/models/…`) → `models`. Taken from the route matched, not the raw URL, so `/%61pi/health` counts as `api`.
 */
function routeGroup(request: FastifyRequest): string {
  const url = request.routeOptions.url;
  // An unmatched URL (the not-found handler has no route url): one bucket for all of them.
  // Stryker disable next-line StringLiteral: equivalent: any name that is no route's first segment does
  if (url === undefined) return '(unmatched)';
  // Model bytes (modelDelivery 'http') have their own bucket: every site behind one gateway fetches each round's model at once, and that must not use up the API's.
  if (url.startsWith('/api/v1/models/')) return 'models';
  return url.split('/')[1];
}

/**
 * @fastify/rate-limit's store over our token bucket: `limit.burst` requests at once per key, then
 * `limit.ratePerSecond`. The plugin counts `current` against `max` (= burst): an allowed request reports 1,
 * a refused one burst + 1 with the time until a token is back as its ttl (the Retry-After).
 */
function tokenBucketStore(limit: RateLimit) {
  const limiter = new RateLimiter(limit);
  return class TokenBucketStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void): void {
      const d = limiter.take(key);
      // Stryker disable next-line ObjectLiteral: equivalent: the plugin reads an allowed request's result only for headers, all off here
      callback(null, d.ok ? { current: 1, ttl: 0 } : { current: limit.burst + 1, ttl: d.retryAfterMs });
    }

    // Stryker disable next-line BlockStatement: unreached: the plugin asks for a child store only for a route with its own limit, and none has one
    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

/**
 * Rate limits every route (API, `/metrics`, `/docs`, the dashboard and the browser site) and unmatched URLs
 * (answered by `notFound`) per client address, with a bucket per route group so a dashboard loading its
 * assets does not use up the API's.
 * Register before the routes: the plugin adds its hook to each route as it is registered.
 */
export function registerApiRateLimit(app: FastifyInstance, limit: RateLimit, notFound: RouteHandlerMethod): void {
  void app.register(rateLimit, {
    global: true,
    max: limit.burst,
    store: tokenBucketStore(limit),
    // An IPv6 client by its /64, an IPv4 one on a dual-stack socket as its IPv4 address: the same keys as the
    // socket's per-address limits (address-key.ts).
    keyGenerator: (request) => `${addressKey(request.ip)}|${routeGroup(request)}`,
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': true },
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (request, context) =>
      new FedtuneError('rate_limited', `too many requests from ${request.ip}; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
  // The plugin limits the routes it sees registered; the not-found handler is not one of them, so a flood of
  // unmatched URLs would pass unlimited. It is set here, with the limit in front of it.
  app.after(() => {
    app.setNotFoundHandler({ preHandler: app.rateLimit() }, notFound);
  });
}
