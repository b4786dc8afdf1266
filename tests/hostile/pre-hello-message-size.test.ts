import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SiteTokenStore } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';
import { attacker, honestSite, rawWebsocketUpgrade } from './helpers.ts';

// Before its site is welcomed (hello accepted, token checked), a connection's messages are held to
// connectionLimits.preHelloMessageBytes (64 KB; a hello is under 2 KB): the websocket refuses a longer one from
// its frame header, before buffering it. Until 2026-12-04 every connection could send messages of the server's
// full size (16 MB and up, sized for updates): 50 connections that never said hello held 788 MB of the
// coordinator's memory in 3 s with partial 15 MB frames, until the hello timeout.
const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
afterAll(() => store.close());

/** A raw websocket to the socket.io endpoint: the HTTP upgrade, then socket.io's namespace connect. */
async function rawWebsocket(port: number): Promise<Socket> {
  const s = await rawWebsocketUpgrade(port);
  s.write(Buffer.concat([frameHeader(1, 2), Buffer.from('40')]));
  return s;
}

/** A client frame's header (FIN, masked with the zero key, 64-bit length). */
function frameHeader(opcode: number, length: number): Buffer {
  const h = Buffer.alloc(14);
  h[0] = 0x80 | opcode;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/**
 * Sends the first `mb` MB of a binary frame that announces one byte more, so a server that accepts its length
 * buffers all of it and waits. Resolves with whether the server closed the connection within `waitMs` after.
 */
async function partialFrame(s: Socket, mb: number, waitMs: number): Promise<{ closed: boolean }> {
  const closed = new Promise<boolean>((r) => s.once('close', () => r(true)));
  s.write(frameHeader(2, mb * 1024 * 1024 + 1));
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < mb && !s.destroyed; i++) if (!s.write(chunk)) await Promise.race([new Promise((r) => s.once('drain', r)), closed]);
  return { closed: await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), waitMs))]) };
}

describe('messages before a welcome', () => {
  it('20 connections sending 15 MB frames before hello are each closed at the frame header; memory stays flat and a site with its token completes the run', async () => {
    const token = store.add('site-a');
    // The hello timeout far away: only the message limit can close these connections within the test.
    const coordinator = await startTinyCoordinator({ runId: 'pre-hello-size', minSites: 1, access: { store, requireTokens: true }, connectionLimits: { helloTimeoutMs: 120_000 } });
    try {
      const port = Number(new URL(coordinator.url!).port);
      const before = process.memoryUsage().arrayBuffers;
      const sockets = await Promise.all(Array.from({ length: 20 }, () => rawWebsocket(port)));
      const outcomes = await Promise.all(sockets.map((s) => partialFrame(s, 15, 3_000)));
      const grown = process.memoryUsage().arrayBuffers - before;
      expect(outcomes.every((o) => o.closed)).toBe(true);
      // Held, the 20 frames would be 300 MB of the coordinator's buffers (~315 MB measured before the limit); what
      // grows without them is this process's other garbage (the attacker's side included), 15–65 MB here.
      expect(grown).toBeLessThan(150 * 1024 * 1024);
      const site = await honestSite(coordinator.url!, 'site-a', { token });
      expect((await site.run).completed).toBe(true);
      expect((await coordinator.done).status).toBe('complete');
    } finally {
      await coordinator.close();
    }
  }, 120_000);

  // The option's effect: the same pre-hello message is closed unread or answered with a typed refusal, by size.
  it.each([
    ['default (64 KB)', undefined, 60 * 1024, 'refused'],
    ['default (64 KB)', undefined, 100 * 1024, 'closed'],
    ['256 KB', 256 * 1024, 100 * 1024, 'refused'],
    ['256 KB', 256 * 1024, 300 * 1024, 'closed'],
  ] as const)('preHelloMessageBytes %s: an event of %i bytes before hello is %s', async (_label, preHelloMessageBytes, bytes, expected) => {
    const coordinator = await startTinyCoordinator({ runId: 'pre-hello-limit', minSites: 2, connectionLimits: { helloTimeoutMs: 120_000, ...(preHelloMessageBytes ? { preHelloMessageBytes } : {}) } });
    try {
      const evil = await attacker(coordinator.url!);
      evil.socket.emit('x'.repeat(bytes), {});
      const outcome = await Promise.race([evil.next('rejected', 10_000).then(() => 'refused'), evil.closed.then((why) => `closed (${why})`)]);
      expect(outcome).toBe(expected === 'closed' ? 'closed (transport close)' : 'refused');
      evil.socket.close();
    } finally {
      await coordinator.close();
    }
  }, 60_000);

  // Its binary attachments, that is (updates travel there); the JSON of a message stays bounded
  // (connectionLimits.maxTextMessageBytes: tests/hostile/welcomed-packet-bounds.test.ts).
  it('once welcomed, a site may send messages of the full size: a 4 MB message is refused by its schema, and the connection stays', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'post-welcome', minSites: 2 });
    try {
      const site = await attacker(coordinator.url!);
      site.hello('site-b');
      await site.next('welcome');
      site.socket.emit('heartbeat', { siteId: 'site-b', status: new Uint8Array(4 * 1024 * 1024) });
      const refusal = await site.next('rejected', 20_000);
      expect(refusal.code).toBe('malformed_payload');
      expect(site.socket.connected).toBe(true);
      site.socket.close();
    } finally {
      await coordinator.close();
    }
  }, 60_000);

  it('HTTP long-polling is not offered: sites connect over websocket only', async () => {
    const coordinator = await startTinyCoordinator({ runId: 'no-polling', minSites: 2 });
    try {
      const res = await fetch(`${coordinator.url}/socket.io/?EIO=4&transport=polling`);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/Transport unknown/);
    } finally {
      await coordinator.close();
    }
  });
});
