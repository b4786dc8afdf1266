import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConnectionLimits, type ConnectionLimitsInput } from '../../coordinator/src/engine/connection-limits.ts';
import { connectionRateLimit } from '../../coordinator/src/transport/connection-rate-limit.ts';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite } from './helpers.ts';

// node's HTTP server hands a websocket's upgrade request to engine.io, never to fastify, so the HTTP rate limit
// never saw new connections: until 2026-12-07 one process opening and closing connections as fast as it could (each
// with a bad hello) made ~330 a second, each a websocket, an engine.io handshake, a namespace and a parsed hello.
// Now each address may open connectionLimits.connectionsPerSecond on average, in bursts of connectionBurst; past
// them engine.io refuses the upgrade (HTTP 400) before any of that work (connection-rate-limit.ts).

const request = (remoteAddress: string | undefined) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;

describe('connectionRateLimit', () => {
  const decide = (allow: ReturnType<typeof connectionRateLimit>, address: string | undefined) => {
    let got: [string | null | undefined, boolean] | undefined;
    allow(request(address), (message, ok) => (got = [message, ok]));
    return got;
  };

  it('takes a burst at once, then refuses with when to retry (seconds, rounded up), and refills at the rate', () => {
    let t = 0;
    const allow = connectionRateLimit({ connectionsPerSecond: 0.5, connectionBurst: 3 }, () => t);
    expect([1, 2, 3].map(() => decide(allow, '10.0.0.1'))).toEqual([
      [null, true],
      [null, true],
      [null, true],
    ]);
    expect(decide(allow, '10.0.0.1')).toEqual(['too many new connections from 10.0.0.1: retry in 2 s', false]);
    t = 1_000;
    expect(decide(allow, '10.0.0.1')).toEqual(['too many new connections from 10.0.0.1: retry in 1 s', false]);
    t = 2_000;
    expect(decide(allow, '10.0.0.1')).toEqual([null, true]);
    expect(decide(allow, '10.0.0.1')).toEqual(['too many new connections from 10.0.0.1: retry in 2 s', false]);
  });

  it('keys by addressKey: another address has its own bucket, one /64 shares one, a mapped IPv4 peer is its IPv4 address', () => {
    const allow = connectionRateLimit({ connectionsPerSecond: 0.001, connectionBurst: 1 }, () => 0);
    expect(decide(allow, '10.0.0.1')).toEqual([null, true]);
    expect(decide(allow, '::ffff:10.0.0.1')?.[1]).toBe(false);
    expect(decide(allow, '10.0.0.2')).toEqual([null, true]);
    expect(decide(allow, '2001:db8::1')).toEqual([null, true]);
    expect(decide(allow, '2001:db8::2')).toEqual(['too many new connections from 2001:db8:0:0::/64: retry in 1000 s', false]);
    expect(decide(allow, '2001:db8:0:1::2')).toEqual([null, true]);
    // No address (a socket already gone): counted under the empty key, limited like any other.
    expect(decide(allow, undefined)).toEqual([null, true]);
    expect(decide(allow, undefined)?.[1]).toBe(false);
  });

  it('defaults: 50 a second, in bursts of 1,024 (as many as an address may hold unwelcomed)', () => {
    const d = ConnectionLimits.parse({});
    expect([d.connectionsPerSecond, d.connectionBurst]).toEqual([50, 1024]);
    expect(d.connectionBurst).toBe(d.maxUnwelcomedPerAddress);
  });

  it.each([
    ['connectionsPerSecond 0', { connectionsPerSecond: 0 }],
    ['connectionBurst 0', { connectionBurst: 0 }],
    ['connectionBurst 2.5', { connectionBurst: 2.5 }],
  ])('refuses %s', (_name, limits) => {
    expect(() => ConnectionLimits.parse(limits)).toThrow();
  });
});

describe('connections per address over real sockets (connectionLimits.connectionsPerSecond, connectionBurst)', () => {
  async function withCoordinator<T>(runId: string, limits: ConnectionLimitsInput, body: (url: string) => Promise<T>): Promise<T> {
    const coordinator = await startTinyCoordinator({ runId, minSites: 1, connectionLimits: { helloTimeoutMs: 60_000, ...limits } });
    try {
      return await body(coordinator.url!);
    } finally {
      await coordinator.close();
    }
  }
  const attempt = (url: string, localAddress?: string) =>
    attacker(url, localAddress).then(
      (a) => {
        a.socket.close();
        return 'connected';
      },
      (err: Error) => `refused: ${(err as Error & { description?: { message?: string } }).description?.message ?? err.message}`,
    );

  it.each([
    { name: 'a burst of 4: the fifth quick connection is refused at its upgrade', limits: { connectionBurst: 4, connectionsPerSecond: 0.01 }, tries: 5, connected: 4 },
    { name: 'a burst of 8 takes 8', limits: { connectionBurst: 8, connectionsPerSecond: 0.01 }, tries: 8, connected: 8 },
    { name: 'the defaults take 40 at once', limits: {}, tries: 40, connected: 40 },
  ])('$name', async ({ limits, tries, connected }) => {
    await withCoordinator(`churn-${limits.connectionBurst ?? 'default'}`, limits, async (url) => {
      const results: string[] = [];
      for (let i = 0; i < tries; i++) results.push(await attempt(url));
      expect(results.filter((r) => r === 'connected')).toHaveLength(connected);
      for (const r of results.slice(connected)) expect(r).toBe('refused: Unexpected server response: 400');
    });
  });

  it('refilled at connectionsPerSecond: 20 a second lets a connection through 0.1 s after the burst is spent', async () => {
    await withCoordinator('churn-refill', { connectionBurst: 2, connectionsPerSecond: 20 }, async (url) => {
      expect([await attempt(url), await attempt(url)]).toEqual(['connected', 'connected']);
      await new Promise((r) => setTimeout(r, 150));
      expect(await attempt(url)).toBe('connected');
    });
  });

  it('a churning address does not keep a site from another address out: it joins and completes the run', async () => {
    await withCoordinator('churn-other-site', { connectionBurst: 3, connectionsPerSecond: 0.01 }, async (url) => {
      const churn = await Promise.all(Array.from({ length: 10 }, () => attempt(url)));
      expect(churn.filter((r) => r === 'connected')).toHaveLength(3);
      const site = await honestSite(url, 'site-a', { localAddress: '127.0.0.2' });
      expect((await site.run).completed).toBe(true);
    });
  });
});
