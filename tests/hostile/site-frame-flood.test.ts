import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CoordinatorFrameLimits, FedtuneError, messageBytesForModel, socketIoConnector, type CoordinatorFrameLimitsInput, type CoordinatorLink } from '@fedtune/shared';

// A hostile coordinator against a site's real socket.io-client link. Until 2026-12-07 a coordinator could stream
// websocket pings (or engine.io's) at a site for as long as it liked: each was answered, and when the coordinator
// did not read, each pong stayed queued in the site's memory — measured, a site went from 126 MB to 2.4 GB in 15 s.
// Now (Node) the site budgets the frames its coordinator sends (frameLimits.framesPerSecond / frameBurst; past them
// it cuts the connection with a reason) and answers at most frameLimits.pongsWhileWritesWait pings while its own
// writes wait (websocket-pong-limit.ts).

const WS_PING = Buffer.from([0x89, 0x00]); // FIN ping, empty (a server's frames are unmasked)
const EIO_PING = Buffer.from([0x81, 0x01, 0x32]); // FIN text "2": engine.io's ping packet
const frames = (frame: Buffer, n: number) => Buffer.concat(Array.from({ length: n }, () => frame));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake coordinator speaking engine.io 4 / socket.io 5 over a real ws server; `connectNamespace` false never acknowledges the site's connect. */
async function fakeCoordinator(connectNamespace = true) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/socket.io/' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let peer: WebSocket | undefined;
  let pongs = 0;
  let eioPongs = 0;
  const opened = new Promise<WebSocket>((resolve) => {
    wss.on('connection', (ws) => {
      peer = ws;
      ws.on('pong', () => void pongs++);
      ws.on('message', (data) => {
        const text = data.toString();
        if (text === '3') eioPongs++;
        if (text.startsWith('40') && connectNamespace) ws.send('40{"sid":"fake"}');
      });
      ws.send(`0${JSON.stringify({ sid: 'fake-eio', upgrades: [], pingInterval: 25_000, pingTimeout: 20_000, maxPayload: 1_000_000 })}`);
      resolve(ws);
    });
  });
  const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return {
    url,
    opened,
    /** The TCP socket under the fake's websocket: raw frames are written to it, and it is paused to stop reading. */
    tcp: async () => ((await opened) as unknown as { _socket: Socket })._socket,
    pongs: () => pongs,
    eioPongs: () => eioPongs,
    close: () =>
      new Promise<void>((r) => {
        peer?.terminate();
        wss.close(() => r());
      }),
  };
}
type Fake = Awaited<ReturnType<typeof fakeCoordinator>>;

/** The bytes the site's TCP socket holds unsent (its writes wait): reached through the link, as a test may. */
function siteUnsentBytes(link: CoordinatorLink): number {
  const ws = (link as unknown as { socket: { io: { engine: { transport: { ws: { _socket: Socket } } } } } }).socket.io.engine.transport.ws;
  return ws._socket.writableLength;
}

const fakes: Fake[] = [];
const links: CoordinatorLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const f of fakes.splice(0)) await f.close();
});

async function siteAgainst(frameLimits?: CoordinatorFrameLimitsInput, connectNamespace = true) {
  const fake = await fakeCoordinator(connectNamespace);
  fakes.push(fake);
  const connecting = socketIoConnector({ url: fake.url, connectTimeoutMs: 5_000, frameLimits }).connect();
  return { fake, connecting };
}

async function connectedSite(frameLimits?: CoordinatorFrameLimitsInput) {
  const { fake, connecting } = await siteAgainst(frameLimits);
  const link = await connecting;
  links.push(link);
  const closed = new Promise<string>((r) => link.onClose(r));
  return { fake, link, closed };
}

describe("a site's budget for its coordinator's websocket frames (frameLimits.framesPerSecond, frameBurst)", () => {
  // The handshake takes two of the coordinator's frames (engine.io's open packet, socket.io's connect): the rows
  // count pings after them. The refill is slow (1 a second) unless the row says otherwise.
  const rows: Array<{ name: string; limits: CoordinatorFrameLimitsInput; pings: number; pauseMs?: number; more?: number; cut: boolean }> = [
    { name: 'the rest of the burst: every ping answered, the link stays', limits: { frameBurst: 50, framesPerSecond: 1 }, pings: 48, cut: false },
    { name: 'one past the burst: cut', limits: { frameBurst: 50, framesPerSecond: 1 }, pings: 49, cut: true },
    { name: 'a larger burst takes more', limits: { frameBurst: 80, framesPerSecond: 1 }, pings: 70, cut: false },
    { name: 'refilled at framesPerSecond: 100/s for 0.6 s lets a second burst through', limits: { frameBurst: 50, framesPerSecond: 100 }, pings: 48, pauseMs: 600, more: 50, cut: false },
    { name: 'refilled at 1/s: the second burst is cut', limits: { frameBurst: 50, framesPerSecond: 1 }, pings: 48, pauseMs: 600, more: 50, cut: true },
  ];

  it.each(rows)('$name', async ({ limits, pings, pauseMs, more, cut }) => {
    const { fake, link, closed } = await connectedSite(limits);
    const tcp = await fake.tcp();
    tcp.write(frames(WS_PING, pings));
    if (more !== undefined) {
      await sleep(pauseMs!);
      tcp.write(frames(WS_PING, more));
    }
    const reason = await Promise.race([closed, sleep(1_500).then(() => undefined)]);
    expect(link.closed).toBe(cut);
    if (cut) expect(reason).toBe(`the coordinator sent websocket frames faster than ${limits.framesPerSecond} a second (in bursts of ${limits.frameBurst}): connection cut`);
    else expect(fake.pongs()).toBe(pings + (more ?? 0));
  });

  it('at the defaults (1,000 a second, bursts of 4,000), a flood of 100,000 pings is cut after about the burst', async () => {
    const { fake, link, closed } = await connectedSite();
    const tcp = await fake.tcp();
    const started = performance.now();
    tcp.write(frames(WS_PING, 100_000));
    expect(await closed).toMatch(/faster than 1000 a second \(in bursts of 4000\)/);
    const seconds = (performance.now() - started) / 1000;
    expect(link.closed).toBe(true);
    await sleep(100);
    // The burst, and what refills (1,000 a second) while the flood is read — however long a loaded machine takes to
    // read it: nowhere near the 100,000 (pongs still queued when the link closes are never written: at least a
    // quarter of the burst).
    expect(fake.pongs()).toBeGreaterThan(1_000);
    expect(fake.pongs()).toBeLessThan(4_000 + 1_000 * (seconds + 0.1) + 1_000);
    expect(fake.pongs()).toBeLessThan(50_000);
  });

  it('engine.io pings count too: 60 of them past a burst of 50 cut the link', async () => {
    const { fake, closed } = await connectedSite({ frameBurst: 50, framesPerSecond: 1 });
    (await fake.tcp()).write(frames(EIO_PING, 60));
    expect(await closed).toMatch(/faster than 1 a second \(in bursts of 50\)/);
  });

  it('a flood before the namespace is connected fails the connect with the reason (no link is made)', async () => {
    const { fake, connecting } = await siteAgainst({ frameBurst: 20, framesPerSecond: 1 }, false);
    (await fake.tcp()).write(frames(WS_PING, 1_000));
    const error = await connecting.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FedtuneError);
    expect((error as FedtuneError).code).toBe('transport');
    expect((error as FedtuneError).message).toBe(`cannot connect to ${fake.url}: the coordinator sent websocket frames faster than 1 a second (in bursts of 20): connection cut`);
  });

  it.each([
    ['framesPerSecond 0', { framesPerSecond: 0 }],
    ['frameBurst 0', { frameBurst: 0 }],
    ['frameBurst 1.5', { frameBurst: 1.5 }],
    ['pongsWhileWritesWait -1', { pongsWhileWritesWait: -1 }],
    ['an unknown field', { framesPerMinute: 1 }],
  ])('frameLimits with %s are refused when the connector is made', (_name, limits) => {
    expect(() => socketIoConnector({ url: 'http://127.0.0.1:1', frameLimits: limits as CoordinatorFrameLimitsInput })).toThrow();
  });
});

describe("the pings a site answers while its writes wait (frameLimits.pongsWhileWritesWait)", () => {
  /**
   * The fake stops reading and the site sends 20 MB (more than the kernel's buffers take), so its writes wait; then
   * the fake sends `pings`. Returns the bytes the site queued meanwhile: its pongs (6 bytes each for a websocket pong,
   * 7 for engine.io's "3", masked as a client's frames are).
   */
  async function queuedWhileWaiting(limits: CoordinatorFrameLimitsInput, ping: Buffer, pings: number) {
    const { fake, link } = await connectedSite({ frameBurst: 1_000_000, framesPerSecond: 1_000_000, ...limits });
    const tcp = await fake.tcp();
    tcp.pause();
    link.sendUnchecked('filler', { bytes: new Uint8Array(20_000_000) });
    await sleep(200);
    const before = siteUnsentBytes(link);
    expect(before).toBeGreaterThan(0);
    tcp.write(frames(ping, pings));
    await sleep(400);
    return { queued: siteUnsentBytes(link) - before, link, fake, tcp };
  }

  it.each([
    { name: 'the default, 64', limits: {}, pings: 1_000, answered: 64 },
    { name: '10', limits: { pongsWhileWritesWait: 10 }, pings: 1_000, answered: 10 },
    { name: '0: none', limits: { pongsWhileWritesWait: 0 }, pings: 1_000, answered: 0 },
    { name: 'more than the pings: every one', limits: { pongsWhileWritesWait: 5_000 }, pings: 1_000, answered: 1_000 },
  ])('websocket pings, $name: $answered answered of $pings', async ({ limits, pings, answered }) => {
    const { queued, link } = await queuedWhileWaiting(limits, WS_PING, pings);
    expect(queued).toBe(answered * 6);
    expect(link.closed).toBe(false);
  });

  it.each([
    { name: 'the default, 64', limits: {}, pings: 1_000, answered: 64 },
    { name: '3', limits: { pongsWhileWritesWait: 3 }, pings: 1_000, answered: 3 },
  ])('engine.io pings, $name: $answered answered of $pings', async ({ limits, pings, answered }) => {
    const { queued } = await queuedWhileWaiting(limits, EIO_PING, pings);
    expect(queued).toBe(answered * 7);
  });

  it('once the coordinator reads again and the backlog has drained, pings are answered again', async () => {
    const { fake, tcp, link } = await queuedWhileWaiting({ pongsWhileWritesWait: 5 }, WS_PING, 100);
    tcp.resume();
    const deadline = Date.now() + 10_000;
    while (siteUnsentBytes(link) > 0 && Date.now() < deadline) await sleep(20);
    expect(siteUnsentBytes(link)).toBe(0);
    // What the site had queued reaches the fake behind the 20 MB: its 5 pongs and no more.
    while (fake.pongs() < 5 && Date.now() < deadline) await sleep(20);
    await sleep(100);
    expect(fake.pongs()).toBe(5);
    tcp.write(frames(WS_PING, 30));
    const until = Date.now() + 5_000;
    while (fake.pongs() < 35 && Date.now() < until) await sleep(20);
    expect(fake.pongs()).toBe(35);
  });

  it('a coordinator that reads gets every ping answered (websocket and engine.io)', async () => {
    const { fake } = await connectedSite();
    const tcp = await fake.tcp();
    tcp.write(frames(WS_PING, 500));
    tcp.write(frames(EIO_PING, 500));
    const until = Date.now() + 5_000;
    while ((fake.pongs() < 500 || fake.eioPongs() < 500) && Date.now() < until) await sleep(20);
    expect([fake.pongs(), fake.eioPongs()]).toEqual([500, 500]);
  });
});

describe("the largest message a site takes from its coordinator (frameLimits.preTermsMessageBytes, then the run's model)", () => {
  const MiB = 1024 * 1024;
  /**
   * A text frame of exactly `bytes` payload bytes (a server's frames are unmasked; 64-bit length) holding a
   * socket.io event of an unknown name: taken, it is refused as an invalid message and the link stays.
   */
  const textFrame = (bytes: number) => {
    const header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(bytes), 2);
    const open = Buffer.from('42["x","');
    const close = Buffer.from('"]');
    return Buffer.concat([header, open, Buffer.alloc(bytes - open.length - close.length, 0x61), close]);
  };

  it('messageBytesForModel: three float32 copies of the model and 1 MiB, never below the pre-terms limit', () => {
    expect(messageBytesForModel(1_000, 16 * MiB)).toBe(16 * MiB);
    expect(messageBytesForModel(2_000_000, 16 * MiB)).toBe(24_000_000 + MiB);
    expect(messageBytesForModel(2_000_000, 64 * MiB)).toBe(64 * MiB);
    expect(messageBytesForModel(0, 1024)).toBe(MiB);
    expect(CoordinatorFrameLimits.parse({}).preTermsMessageBytes).toBe(16 * MiB);
  });

  it.each([
    { name: 'the default: 16 MiB is taken', limits: {}, bytes: 16 * MiB, cut: false },
    { name: 'the default: one byte past 16 MiB cuts', limits: {}, bytes: 16 * MiB + 1, cut: true },
    { name: 'preTermsMessageBytes 1 MiB: 1 MiB + 1 cuts', limits: { preTermsMessageBytes: MiB }, bytes: MiB + 1, cut: true },
    { name: 'preTermsMessageBytes 1 MiB: 1 MiB is taken', limits: { preTermsMessageBytes: MiB }, bytes: MiB, cut: false },
  ])('$name', async ({ limits, bytes, cut }) => {
    const { fake, link, closed } = await connectedSite(limits);
    (await fake.tcp()).write(textFrame(bytes));
    const reason = await Promise.race([closed, sleep(1_500).then(() => undefined)]);
    expect(link.closed).toBe(cut);
    if (cut) expect(reason).toBe(`the coordinator sent a message larger than the site's limit of ${limits.preTermsMessageBytes ?? 16 * MiB} bytes: connection cut`);
  });

  it("allowMessagesForModel raises it for the run's model: 2 M parameters take 25 MiB, not one byte more", async () => {
    const one = await connectedSite();
    one.link.allowMessagesForModel!(2_000_000);
    (await one.fake.tcp()).write(textFrame(24_000_000 + MiB));
    await sleep(1_000);
    expect(one.link.closed).toBe(false);
    const two = await connectedSite();
    two.link.allowMessagesForModel!(2_000_000);
    (await two.fake.tcp()).write(textFrame(24_000_000 + MiB + 1));
    expect(await two.closed).toBe(`the coordinator sent a message larger than the site's limit of ${24_000_000 + MiB} bytes: connection cut`);
  });

  it('before the namespace is connected, an oversized message fails the connect with the reason', async () => {
    const { fake, connecting } = await siteAgainst({ preTermsMessageBytes: MiB }, false);
    (await fake.tcp()).write(textFrame(2 * MiB));
    await expect(connecting).rejects.toMatchObject({ code: 'transport', message: `cannot connect to ${fake.url}: the coordinator sent a message larger than the site's limit of ${MiB} bytes: connection cut` });
  });
});
