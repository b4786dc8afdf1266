/**
 * A token bucket per key (an IP address, say), in memory. Each key starts with `burst` tokens and
 * regains `ratePerSecond` per second up to `burst`; a request takes one token or is refused.
 * Idle keys are dropped, so the map stays as small as the set of recently active keys, and never holds
 * more than `maxKeys` (a flood of new keys — made-up site names, say — evicts the oldest first).
 */
export interface RateLimit {
  /** Sustained rate, tokens per second. */
  ratePerSecond: number;
  /** Bucket size: how many requests may come at once after a quiet period. */
  burst: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep: number;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new RangeError(`rate limit needs ratePerSecond > 0 and burst ≥ 1, got ${JSON.stringify(limit)}`);
    this.lastSweep = now();
  }

  /** Takes one token from `key`'s bucket if it has one. */
  take(key: string): RateDecision {
    const t = this.now();
    this.sweep(t);
    if (!this.buckets.has(key) && this.buckets.size >= this.maxKeys) {
      // The oldest key first (a Map keeps insertion order); with maxKeys 0 there is none and nothing is deleted.
      this.buckets.delete(this.buckets.keys().next().value as string);
    }
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: t };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.ratePerSecond);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / this.limit.ratePerSecond) * 1000) };
  }

  /** Keys currently tracked (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled completely: they are the same as absent ones. */
  private sweep(t: number): void {
    const fullAfterMs = (this.limit.burst / this.limit.ratePerSecond) * 1000;
    if (t - this.lastSweep < Math.max(1000, fullAfterMs)) return;
    this.lastSweep = t;
    for (const [key, b] of this.buckets) if (t - b.at >= fullAfterMs) this.buckets.delete(key);
  }
}

/** Default for the HTTP API: 50 requests per second per address, bursts of 100. */
export const DEFAULT_API_RATE_LIMIT: RateLimit = { ratePerSecond: 50, burst: 100 };

/** Hello attempts per address: `perMinute` sustained, the same as burst (slows token guessing). */
export function helloRateLimit(perMinute: number): RateLimit {
  return { ratePerSecond: perMinute / 60, burst: perMinute };
}

/** Default joins without a site token per address per minute, and their burst (site-authorizer.ts, openJoinsPerMinute). */
export const DEFAULT_OPEN_JOINS_PER_MINUTE = 60;
export const DEFAULT_OPEN_JOIN_BURST = 2048;

/** Default hello attempts per address per minute. */
export const DEFAULT_HELLOS_PER_MINUTE = 30;
