import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionLimits, type ConnectionLimitsInput } from '../../coordinator/src/engine/connection-limits.ts';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, rawWebsocketUpgrade } from './helpers.ts';

// Websocket control frames and engine.io's own packets (a pong, a noop) never reach socket.io's parser or a site's
// message budget. Until 2026-12-07 one peer, before any hello, could stream them for as long as it liked: 30 MB
// of engine.io pongs (4.3 M frames in 19 s) put the health check's median at 265 ms and its worst at 2.3 s, and a
// stream of pings — each answered with a pong, queued in the coordinator's memory when the peer does not read —
// left health checks waiting 4.7–6.5 s (one was reset). Now every frame a connection sends counts against
// connectionLimits.preHelloFramesPerSecond / preHelloFrameBurst until its site is welcomed, framesPerSecond /
// frameBurst after, and past them the connection is cut (websocket-frame-budget.ts).

const PING = Buffer.from([0x89, 0x80, 0, 0, 0, 0]); // FIN ping, masked with the zero key, empty
const EIO_PONG = Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x33]); // FIN text "3": engine.io's pong packet

/** A raw websocket to the socket.io endpoint that counts the pong frames the server sends back. */
async function rawPeer(port: number): Promise<{ socket: Socket; pongs: () => number; closed: Promise<void>; isClosed: () => boolean }> {
  const socket = await rawWebsocketUpgrade(port);
  let buffered = Buffer.alloc(0);
  let pongs = 0;
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    // Server frames are unmasked; the ones here are short (7-bit lengths): the engine.io open packet, pongs.
    while (buffered.length >= 2 && buffered.length >= 2 + (buffered[1] & 0x7f)) {
      if ((buffered[0] & 0x0f) === 0x0a) pongs++;
      buffered = buffered.subarray(2 + (buffered[1] & 0x7f));
    }
  });
  const done = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
  return { socket, pongs: () => pongs, closed: done, isClosed: () => closed };
}

const frames = (frame: Buffer, n: number) => Buffer.concat(Array.from({ length: n }, () => frame));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withCoordinator<T>(runId: string, connectionLimits: ConnectionLimitsInput, body: (port: number, url: string) => Promise<T>): Promise<T> {
  const coordinator = await startTinyCoordinator({ runId, minSites: 1, connectionLimits: { helloTimeoutMs: 60_000, ...connectionLimits } });
  try {
    return await body(Number(new URL(coordinator.url!).port), coordinator.url!);
  } finally {
    await coordinator.close();
  }
}

describe('the websocket frame budget before a welcome (connectionLimits.preHelloFramesPerSecond, preHelloFrameBurst)', () => {
  // Each row: the frames sent in one or two writes (a pause between them), the pongs that come back, and whether
  // the connection is cut. The refill is slow (1 a second) unless the row says otherwise.
  const rows: Array<{ name: string; limits: ConnectionLimitsInput; first: number; pauseMs?: number; second?: number; pongs: number; cut: boolean }> = [
    { name: 'within the burst: every ping is answered, the connection stays', limits: { preHelloFrameBurst: 50, preHelloFramesPerSecond: 1 }, first: 40, pongs: 40, cut: false },
    { name: 'the whole burst: still within it', limits: { preHelloFrameBurst: 50, preHelloFramesPerSecond: 1 }, first: 50, pongs: 50, cut: false },
    { name: 'one past the burst: cut', limits: { preHelloFrameBurst: 50, preHelloFramesPerSecond: 1 }, first: 51, pongs: 50, cut: true },
    { name: 'a larger burst takes more', limits: { preHelloFrameBurst: 80, preHelloFramesPerSecond: 1 }, first: 60, pongs: 60, cut: false },
    { name: 'refilled at preHelloFramesPerSecond: 100/s for 0.6 s lets a second burst through', limits: { preHelloFrameBurst: 50, preHelloFramesPerSecond: 100 }, first: 50, pauseMs: 600, second: 50, pongs: 100, cut: false },
    { name: 'refilled at 1/s: the second burst is cut', limits: { preHelloFrameBurst: 50, preHelloFramesPerSecond: 1 }, first: 50, pauseMs: 600, second: 50, pongs: 50, cut: true },
  ];

  it.each(rows)('$name', async ({ limits, first, pauseMs, second, pongs, cut }) => {
    await withCoordinator(`frame-budget-${first}-${second ?? 0}-${limits.preHelloFrameBurst}-${limits.preHelloFramesPerSecond}`, limits, async (port) => {
      const peer = await rawPeer(port);
      peer.socket.write(frames(PING, first));
      if (second !== undefined) {
        await sleep(pauseMs!);
        peer.socket.write(frames(PING, second));
      }
      await Promise.race([peer.closed, sleep(1_500)]);
      expect(peer.isClosed()).toBe(cut);
      // A cut connection's last pongs can be lost with its reset: at most the burst's arrive.
      if (cut) expect(peer.pongs()).toBeLessThanOrEqual(pongs);
      else expect(peer.pongs()).toBe(pongs);
      peer.socket.destroy();
    });
  });

  it('a frame whose header arrives in two reads counts once', async () => {
    await withCoordinator('frame-budget-split-header', { preHelloFrameBurst: 3, preHelloFramesPerSecond: 1 }, async (port) => {
      const peer = await rawPeer(port);
      for (let i = 0; i < 3; i++) {
        peer.socket.write(PING.subarray(0, 1));
        await sleep(100);
        peer.socket.write(PING.subarray(1));
        await sleep(100);
      }
      await Promise.race([peer.closed, sleep(500)]);
      expect(peer.isClosed()).toBe(false);
      expect(peer.pongs()).toBe(3);
      peer.socket.destroy();
    });
  });

  it('continuation frames count: one text message in 60 fragments is cut at the 51st', async () => {
    await withCoordinator('frame-budget-fragments', { preHelloFrameBurst: 50, preHelloFramesPerSecond: 1 }, async (port) => {
      const peer = await rawPeer(port);
      // A text frame without FIN, then continuations (opcode 0) of one masked byte each, the last with FIN.
      const parts = [Buffer.from([0x01, 0x81, 0, 0, 0, 0, 0x34])];
      for (let i = 1; i < 60; i++) parts.push(Buffer.from([i === 59 ? 0x80 : 0x00, 0x81, 0, 0, 0, 0, 0x30]));
      peer.socket.write(Buffer.concat(parts));
      await Promise.race([peer.closed, sleep(1_500)]);
      expect(peer.isClosed()).toBe(true);
    });
  });

  it('at the defaults, a flood of 100,000 engine.io pongs before any hello is cut, and a site completes the run beside it', async () => {
    await withCoordinator('frame-budget-defaults', {}, async (port, url) => {
      const peer = await rawPeer(port);
      const written = frames(EIO_PONG, 100_000);
      peer.socket.write(written);
      await Promise.race([peer.closed, sleep(5_000)]);
      expect(peer.isClosed()).toBe(true);
      const health = await fetch(`${url}/api/health`);
      expect(health.status).toBe(200);
      const site = await honestSite(url, 'site-a');
      expect((await site.run).completed).toBe(true);
    });
  });

  it('a stream of pings at the defaults is cut too: at most a burst of pongs is ever owed to a peer that does not read', async () => {
    await withCoordinator('frame-budget-ping-defaults', {}, async (port) => {
      const peer = await rawPeer(port);
      peer.socket.write(frames(PING, 100_000));
      await Promise.race([peer.closed, sleep(5_000)]);
      expect(peer.isClosed()).toBe(true);
      expect(peer.pongs()).toBeLessThanOrEqual(ConnectionLimits.parse({}).preHelloFrameBurst);
      expect(peer.pongs()).toBeGreaterThan(0);
    });
  });

});

/** A site welcomed through socket.io-client (hello, the terms accepted), then its websocket's own pings. */
async function welcomedPeer(url: string, siteId: string): Promise<{ ping(n: number): void; pongs: () => number; closed: Promise<string>; isClosed: () => boolean }> {
  const a = await attacker(url);
  a.hello(siteId);
  await a.next('welcome');
  const ws = (a.socket.io.engine.transport as unknown as { ws: { ping(): void; on(e: 'pong', f: () => void): void } }).ws;
  let pongs = 0;
  let closed = false;
  ws.on('pong', () => pongs++);
  void a.closed.then(() => (closed = true));
  return { ping: (n) => Array.from({ length: n }, () => ws.ping()), pongs: () => pongs, closed: a.closed, isClosed: () => closed };
}

describe('the websocket frame budget once welcomed (connectionLimits.framesPerSecond, frameBurst)', () => {
  // A welcomed connection has spent 3 frames of its pre-hello burst of 64 (the namespace's connect, the hello, the
  // terms' acceptance; no refill before the welcome here): the welcome raises the 61 left by the difference of the
  // bursts, so a burst of 100 leaves 97. The pre-hello budget alone would cut all of these rows. A cut connection's
  // last pongs can be lost with its reset: only the rows that are not cut count them exactly.
  const slowPreHello = { preHelloFrameBurst: 64, preHelloFramesPerSecond: 0.001 };
  const rows: Array<{ name: string; limits: ConnectionLimitsInput; first: number; pauseMs?: number; second?: number; cut: boolean; pongs: [number, number] }> = [
    { name: 'frameBurst 200: 150 pings are all answered', limits: { ...slowPreHello, frameBurst: 200, framesPerSecond: 1 }, first: 150, cut: false, pongs: [150, 150] },
    { name: 'frameBurst 100: 97 pings are all answered', limits: { ...slowPreHello, frameBurst: 100, framesPerSecond: 1 }, first: 97, cut: false, pongs: [97, 97] },
    { name: 'frameBurst 100: the 98th ping is cut', limits: { ...slowPreHello, frameBurst: 100, framesPerSecond: 1 }, first: 98, cut: true, pongs: [0, 97] },
    { name: 'framesPerSecond 300: two bursts of 90, 0.5 s apart, pass', limits: { ...slowPreHello, frameBurst: 100, framesPerSecond: 300 }, first: 90, pauseMs: 500, second: 90, cut: false, pongs: [180, 180] },
    { name: 'framesPerSecond 1: the second burst of 90 is cut', limits: { ...slowPreHello, frameBurst: 100, framesPerSecond: 1 }, first: 90, pauseMs: 500, second: 90, cut: true, pongs: [0, 97] },
  ];
  it.each(rows)('$name', async ({ limits, first, pauseMs, second, cut, pongs }) => {
    await withCoordinator(`frame-budget-welcomed-${first}-${second ?? 0}-${limits.frameBurst}-${limits.framesPerSecond}`, limits, async (_port, url) => {
      const peer = await welcomedPeer(url, 'site-w');
      peer.ping(first);
      if (second !== undefined) {
        await sleep(pauseMs!);
        peer.ping(second);
      }
      await Promise.race([peer.closed, sleep(1_500)]);
      expect(peer.isClosed()).toBe(cut);
      expect(peer.pongs()).toBeGreaterThanOrEqual(pongs[0]);
      expect(peer.pongs()).toBeLessThanOrEqual(pongs[1]);
    });
  });

  it('the defaults leave the message budget to bind first once welcomed: a message is one frame, or two with an attachment', () => {
    const d = ConnectionLimits.parse({});
    expect(d.frameBurst).toBeGreaterThanOrEqual(2 * d.messageBurst);
    expect(d.framesPerSecond).toBeGreaterThanOrEqual(2 * d.messagesPerSecond);
    expect(d.preHelloFrameBurst).toBeLessThan(d.frameBurst);
  });
});

describe('the pongs a peer that does not read is owed (connectionLimits.pongsWhileWritesWait)', () => {
  // Under its frame budget a peer could still stream pings and read nothing: each pong stayed queued in the
  // coordinator's memory for as long as the connection lasted. Now, once the coordinator's writes to it wait, at most
  // pongsWhileWritesWait more pings are answered until they have drained (websocket-pong-limit.ts). Pings of 125
  // bytes are answered with pongs of 127: 100,000 of them (12.7 MB) are more than the kernel's buffers take, so
  // the coordinator's writes wait long before the last; what the peer reads once it reads again is what was queued.
  const PING_125 = Buffer.concat([Buffer.from([0x89, 0x80 | 125, 0, 0, 0, 0]), Buffer.alloc(125, 0x61)]);
  const flood = 100_000;

  async function pongsOwed(limits: ConnectionLimitsInput): Promise<number> {
    return withCoordinator(`pongs-owed-${limits.pongsWhileWritesWait ?? 'default'}`, { preHelloFrameBurst: 1_000_000, preHelloFramesPerSecond: 1_000_000, ...limits }, async (port) => {
      const peer = await rawPeer(port);
      peer.socket.pause();
      await new Promise<void>((r) => peer.socket.write(frames(PING_125, flood), () => r()));
      // Every ping read (the write has reached the coordinator's side); then read what it queued, until no more comes.
      await sleep(1_000);
      peer.socket.resume();
      let seen = -1;
      while (peer.pongs() !== seen) {
        seen = peer.pongs();
        await sleep(300);
      }
      expect(peer.isClosed()).toBe(false);
      peer.socket.destroy();
      return seen;
    });
  }

  it('at the default (64), far fewer than the pings are answered: what the kernel took, and 64', async () => {
    const owed = await pongsOwed({});
    expect(owed).toBeGreaterThan(0);
    expect(owed).toBeLessThan(flood / 2);
  });

  it('with a limit above the flood, every ping is answered (the limit is what bounds them)', async () => {
    expect(await pongsOwed({ pongsWhileWritesWait: 1_000_000 })).toBe(flood);
  });

  it('a peer that reads gets every pong at the default', async () => {
    await withCoordinator('pongs-read', { preHelloFrameBurst: 1_000_000, preHelloFramesPerSecond: 1_000_000 }, async (port) => {
      const peer = await rawPeer(port);
      peer.socket.write(frames(PING, 20_000));
      const until = Date.now() + 5_000;
      while (peer.pongs() < 20_000 && Date.now() < until) await sleep(20);
      expect(peer.pongs()).toBe(20_000);
      peer.socket.destroy();
    });
  });
});
