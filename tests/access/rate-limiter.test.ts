import { describe, expect, it } from 'vitest';
import { helloRateLimit, RateLimiter } from '@fedtune/coordinator';

describe('RateLimiter (token bucket per key)', () => {
  it('allows a burst, then the sustained rate, per key', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3 }, () => now);
    expect([1, 2, 3].map(() => limiter.take('10.0.0.1').ok)).toEqual([true, true, true]);
    const refused = limiter.take('10.0.0.1');
    expect(refused).toEqual({ ok: false, retryAfterMs: 500 });
    expect(limiter.take('10.0.0.2').ok).toBe(true); // other addresses are unaffected
    now = 500;
    expect(limiter.take('10.0.0.1').ok).toBe(true);
    expect(limiter.take('10.0.0.1').ok).toBe(false);
    now = 10_000; // refilled, but never beyond the burst
    expect([1, 2, 3, 4].map(() => limiter.take('10.0.0.1').ok)).toEqual([true, true, true, false]);
  });

  it('forgets idle keys', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 10 }, () => now);
    for (let i = 0; i < 100; i++) limiter.take(`10.0.0.${i}`);
    expect(limiter.size).toBe(100);
    now = 5_000;
    limiter.take('10.0.1.1');
    expect(limiter.size).toBe(1);
  });

  it('hello limit: N per minute', () => {
    let now = 0;
    const limiter = new RateLimiter(helloRateLimit(30), () => now);
    for (let i = 0; i < 30; i++) expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 2000 });
    now = 2000;
    expect(limiter.take('a').ok).toBe(true);
  });
});

describe('RateLimiter memory', () => {
  it('never tracks more than maxKeys keys (a flood of new keys evicts the oldest)', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1 }, () => 0, 50);
    for (let i = 0; i < 1_000; i++) limiter.take(`made-up-${i}`);
    expect(limiter.size).toBe(50);
    expect(limiter.take('made-up-999').ok).toBe(false); // recent keys are still limited
  });
});
