import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UnwelcomedConnections } from '../../coordinator/src/transport/unwelcomed-connections.ts';
import { websocketMessageSizeLimit } from '../../shared/src/transport/websocket-message-size-limit.ts';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, rawWebsocketUpgrade, until } from './helpers.ts';

// One address may hold at most connectionLimits.maxUnwelcomedPerAddress connections that are open and not yet
// welcomed (default 1,024). Without the cap one address opened 5,000 connections that never said hello in 3 s
// (~40 KB each) and could go on to the process's file-descriptor limit, where no site can connect.

/** A raw websocket that completes engine.io's handshake and never asks for the namespace (socket.io's CONNECT). */
async function engineOnly(port: number): Promise<Socket> {
  const s = await rawWebsocketUpgrade(port);
  s.resume();
  return s;
}

const connectError = (url: string, localAddress?: string) =>
  attacker(url, localAddress).then(
    (a) => {
      a.socket.close();
      return 'connected';
    },
    (err: Error) => `connect_error: ${err.message}`,
  );

describe('connections not yet welcomed, per address', () => {
  it.each([
    ['5', 5, 'connect_error: too many connections from this address waiting to join (5): retry later'],
    ['the default (1024)', undefined, 'connected'],
  ] as const)('maxUnwelcomedPerAddress %s: with 5 silent connections open, a sixth from the address gets %s', async (_label, cap, sixth) => {
    const coordinator = await startTinyCoordinator({ runId: 'unwelcomed-cap', minSites: 3, connectionLimits: { helloTimeoutMs: 120_000, ...(cap ? { maxUnwelcomedPerAddress: cap } : {}) } });
    try {
      const silent = await Promise.all(Array.from({ length: 5 }, () => attacker(coordinator.url!)));
      expect(await connectError(coordinator.url!)).toBe(sixth);
      if (cap) {
        // Another address is not affected.
        expect(await connectError(coordinator.url!, '127.0.0.2')).toBe('connected');
        // A welcomed site no longer counts: one says hello, and a new connection is taken.
        silent[0].hello('site-a');
        await silent[0].next('welcome');
        expect(await connectError(coordinator.url!)).toBe('connected');
        // Nor does a closed one.
        silent[1].socket.close();
        await until(() => silent[1].socket.disconnected, 'closed');
        await new Promise((r) => setTimeout(r, 100));
        const next = await Promise.all([attacker(coordinator.url!), attacker(coordinator.url!)]);
        expect(next.map((a) => a.socket.connected)).toEqual([true, true]);
        // And the address is full again (3 silent and these 2).
        expect(await connectError(coordinator.url!)).toMatch(/^connect_error: too many connections/);
        for (const a of next) a.socket.close();
      }
      for (const a of silent) a.socket.close();
    } finally {
      await coordinator.close();
    }
  }, 60_000);

  it('2,000 raw connections from one address that never ask for the namespace: all past the cap are closed within 2 s, and a site from another address completes the run', async () => {
    const sockets: Socket[] = [];
    const coordinator = await startTinyCoordinator({ runId: 'unwelcomed-flood', minSites: 1, connectionLimits: { helloTimeoutMs: 120_000, maxUnwelcomedPerAddress: 200 } });
    try {
      const port = Number(new URL(coordinator.url!).port);
      for (let k = 0; k < 2000; k += 100) sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => engineOnly(port)))));
      // The cap's 200 stay open (until the hello timeout); every other one is closed by the coordinator.
      await until(() => sockets.filter((s) => !s.destroyed).length === 200, 'exactly the cap open', 5_000);
      const site = await honestSite(coordinator.url!, 'site-b', { localAddress: '127.0.0.2' });
      expect((await site.run).completed).toBe(true);
      expect((await coordinator.done).status).toBe('complete');
    } finally {
      for (const s of sockets) s.destroy();
      await coordinator.close();
    }
  }, 120_000);

  // socket.io's own timeout for a connection that never asks for the namespace is 45 s; the coordinator sets it to helloTimeoutMs.
  it.each([
    [500, true],
    [10_000, false],
  ])('helloTimeoutMs %i: a connection that never asks for the namespace is sent a close within 2 s: %s', async (helloTimeoutMs, closed) => {
    const coordinator = await startTinyCoordinator({ runId: 'connect-timeout', minSites: 1, connectionLimits: { helloTimeoutMs } });
    const s = await engineOnly(Number(new URL(coordinator.url!).port));
    try {
      // A websocket close frame (FIN + opcode 8) from the server, or the TCP socket closed.
      const sawClose = new Promise<boolean>((resolve) => {
        s.on('data', (d: Buffer) => d.includes(0x88) && resolve(true));
        s.once('close', () => resolve(true));
      });
      expect(await Promise.race([sawClose, new Promise<boolean>((r) => setTimeout(() => r(false), 2_000))])).toBe(closed);
    } finally {
      s.destroy();
      await coordinator.close();
    }
  }, 30_000);

  it('the count: admitted up to the cap per address, released once per connection (welcome or close)', () => {
    const closers: Array<() => void> = [];
    const conn = (remoteAddress: string) => ({ remoteAddress, once: (_e: 'close', l: () => void) => closers.push(l) });
    const count = new UnwelcomedConnections(2);
    const [a1, a2, a3] = [conn('a'), conn('a'), conn('a')];
    expect(count.admit(a1)).toBe(true);
    expect(count.admit(a2)).toBe(true);
    expect(count.admit(a3)).toBe(false);
    expect(count.admit(conn('b'))).toBe(true);
    expect(count.of('a')).toBe(2);
    count.release(a1);
    count.release(a1);
    closers[0]();
    expect(count.of('a')).toBe(1);
    closers[1]();
    expect(count.of('a')).toBe(0);
    expect(count.admit(a3)).toBe(true);
    expect(count.of('b')).toBe(1);
    expect(count.addresses).toBe(2);
    count.release(a3);
    // An address whose last connection left is not kept.
    expect(count.addresses).toBe(1);
    expect(count.admit({ once: () => undefined })).toBe(true);
    expect(count.of('')).toBe(1);
    expect(count.addresses).toBe(2);
  });

  it("the websocket's message size limit: read and set on ws's receiver, undefined where there is none", () => {
    const ws = { _receiver: { _maxPayload: 1000 } };
    const limit = websocketMessageSizeLimit(ws)!;
    expect(limit.bytes).toBe(1000);
    limit.set(64);
    expect(ws._receiver._maxPayload).toBe(64);
    expect(limit.bytes).toBe(64);
    for (const none of [undefined, null, {}, { _receiver: null }, { _receiver: {} }, { _receiver: { _maxPayload: '1000' } }]) {
      expect(websocketMessageSizeLimit(none)).toBeUndefined();
    }
  });
});
