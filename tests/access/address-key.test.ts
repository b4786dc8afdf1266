import { describe, expect, it } from 'vitest';
import { buildApp, SiteTokenStore, siteAuthorizer } from '@fedtune/coordinator';
import type { Hello, SiteLink } from '@fedtune/shared';
import { addressKey, IPV6_PREFIX_BITS } from '../../coordinator/src/access/address-key.ts';
import { UnwelcomedConnections } from '../../coordinator/src/transport/unwelcomed-connections.ts';
import { tempDir } from '../helpers/federation.ts';
import { attacker } from '../hostile/helpers.ts';
import { startTinyCoordinator } from './helpers.ts';

// Every per-address limit — the unwelcomed connections an address may hold, failed hellos, the HTTP rate limit —
// counts a peer under addressKey: until 2026-12-07 the socket's limits keyed the whole address, so a peer with an
// IPv6 /64 (2^64 addresses, what an ISP or a cloud gives a subscriber) had a fresh budget for every connection.

describe('addressKey', () => {
  it.each([
    ['IPv4', '10.0.0.1', '10.0.0.1'],
    ['IPv4 with a zone', '10.0.0.1%eth0', '10.0.0.1'],
    ['IPv6 with groups after :: that reach the /64', '1::2:3:4:5:6', '1:0:0:2::/64'],
    ['IPv4-mapped with leading groups written out', '0:0::ffff:10.0.0.1', '10.0.0.1'],
    ['IPv4, another', '192.168.255.254', '192.168.255.254'],
    ['IPv6 compressed', '2001:db8::1', '2001:db8:0:0::/64'],
    ['IPv6 in the same /64, written in full and upper case', '2001:0DB8:0000:0000:FFFF:0:0:1', '2001:db8:0:0::/64'],
    ['IPv6 in the next /64', '2001:db8:0:1::1', '2001:db8:0:1::/64'],
    ['IPv6 with all eight groups', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['IPv6 whose prefix ends in ::', '2001:db8:a:b::', '2001:db8:a:b::/64'],
    ['IPv6 starting with ::', '::2:3:4:5:6', '0:0:0:2::/64'],
    ['IPv6 loopback', '::1', '0:0:0:0::/64'],
    ['IPv6 with a zone', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['IPv4-mapped (a dual-stack socket\'s IPv4 peer)', '::ffff:10.0.0.1', '10.0.0.1'],
    ['IPv4-mapped, upper case', '::FFFF:127.0.0.1', '127.0.0.1'],
    ['IPv4-mapped in hex', '::ffff:7f00:1', '127.0.0.1'],
    ['IPv4-mapped in hex, high octets', '::ffff:c0a8:fffe', '192.168.255.254'],
    ['IPv4-mapped written in full', '0:0:0:0:0:ffff:a00:1', '10.0.0.1'],
    ['not mapped: ffff in another group', '::ffff:0:a00:1', '0:0:0:0::/64'],
    ['not mapped: a non-zero group before ffff', '1::ffff:10.0.0.1', '1:0:0:0::/64'],
    ['IPv4-compatible (deprecated), an IPv6 address', '::10.0.0.1', '0:0:0:0::/64'],
    ['a dotted IPv4 tail after a prefix (NAT64)', '64:ff9b::10.0.0.1', '64:ff9b:0:0::/64'],
    ['not an address: itself', 'unix-socket', 'unix-socket'],
    ['not an address, long: clipped to 64', 'x'.repeat(100), 'x'.repeat(64)],
    ['the empty string', '', ''],
    ['none', undefined, ''],
  ])('%s: %s → %s', (_name, address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it('counts IPv6 by its /64', () => {
    expect(IPV6_PREFIX_BITS).toBe(64);
  });
});

describe('the limits key by addressKey', () => {
  it('unwelcomed connections: one /64 shares the cap, the next /64 and IPv4 have their own; a mapped IPv4 peer is its IPv4 address', () => {
    const conn = (remoteAddress: string) => ({ remoteAddress, once: () => undefined });
    const count = new UnwelcomedConnections(2);
    expect(count.admit(conn('2001:db8::1'))).toBe(true);
    expect(count.admit(conn('2001:db8::2'))).toBe(true);
    expect(count.admit(conn('2001:db8::ffff:3'))).toBe(false);
    expect(count.admit(conn('2001:db8:0:1::1'))).toBe(true);
    expect(count.of('2001:db8::99')).toBe(2);
    expect(count.admit(conn('::ffff:10.0.0.1'))).toBe(true);
    expect(count.admit(conn('10.0.0.1'))).toBe(true);
    expect(count.admit(conn('::ffff:10.0.0.1'))).toBe(false);
    expect(count.admit(conn('::ffff:10.0.0.2'))).toBe(true);
    expect(count.of('10.0.0.1')).toBe(2);
    expect(count.addresses).toBe(4);
  });

  it('failed hellos: addresses of one /64 share a bucket, and the refusal names the /64', () => {
    const store = new SiteTokenStore(':memory:');
    store.add('s');
    const authorize = siteAuthorizer({ store, hellosPerMinute: 3, addressOf: (l) => l.id, now: () => 0 });
    const hello = (siteId: string) => ({ siteId, token: 'bad' }) as unknown as Hello;
    const link = (id: string) => ({ id }) as unknown as SiteLink;
    for (let i = 0; i < 3; i++) expect(authorize(hello(`n${i}`), link(`2001:db8::${i + 1}`))).toMatchObject({ code: 'unauthorized' });
    expect(authorize(hello('n3'), link('2001:db8::4'))).toEqual({ ok: false, code: 'rate_limited', reason: 'too many join attempts from 2001:db8:0:0::/64; retry in 20 s' });
    expect(authorize(hello('n4'), link('2001:db8:0:1::4'))).toMatchObject({ code: 'unauthorized' });
    // A mapped IPv4 peer and the same peer's plain IPv4 address share one bucket.
    for (let i = 0; i < 3; i++) authorize(hello(`m${i}`), link(i % 2 ? '10.0.0.1' : '::ffff:10.0.0.1'));
    expect(authorize(hello('m3'), link('10.0.0.1'))).toMatchObject({ code: 'rate_limited', reason: 'too many join attempts from 10.0.0.1; retry in 20 s' });
    store.close();
  });

  it('the HTTP rate limit: clients of one /64 share a bucket, another /64 has its own', async () => {
    const { app } = buildApp({ runsDir: tempDir(), maxMessageBytes: 1024 * 1024, apiRateLimit: { ratePerSecond: 0.001, burst: 2 } });
    try {
      const status = async (remoteAddress: string) => (await app.inject({ method: 'GET', url: '/api/health', remoteAddress })).statusCode;
      expect([await status('2001:db8::1'), await status('2001:db8::2'), await status('2001:db8::3')]).toEqual([200, 200, 429]);
      expect(await status('2001:db8:0:1::1')).toBe(200);
      expect([await status('::ffff:10.0.0.1'), await status('10.0.0.1'), await status('::ffff:10.0.0.1')]).toEqual([200, 200, 429]);
    } finally {
      await app.close();
    }
  });

  it('over real sockets on a dual-stack coordinator (listening on ::): IPv4 and IPv6 peers have caps of their own', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'address-key-dual-stack', minSites: 3, host: '::', connectionLimits: { helloTimeoutMs: 60_000, maxUnwelcomedPerAddress: 1 } });
    const open: Array<Awaited<ReturnType<typeof attacker>>> = [];
    const attempt = (url: string, localAddress?: string) =>
      attacker(url, localAddress).then(
        (a) => (open.push(a), 'connected'),
        (err: Error) => `connect_error: ${err.message}`,
      );
    try {
      const port = new URL(coordinator.url!).port;
      const v4 = `http://127.0.0.1:${port}`;
      const v6 = `http://[::1]:${port}`;
      // Seen as ::ffff:127.0.0.1 and ::1: before the mapped form was read as IPv4, both fell in one /64.
      expect(await attempt(v4)).toBe('connected');
      expect(await attempt(v6)).toBe('connected');
      expect(await attempt(v4)).toBe('connect_error: too many connections from this address waiting to join (1): retry later');
      expect(await attempt(v6)).toBe('connect_error: too many connections from this address waiting to join (1): retry later');
      expect(await attempt(v4, '127.0.0.2')).toBe('connected');
    } finally {
      for (const a of open) a.socket.close();
      await coordinator.close();
    }
  }, 30_000);
});
