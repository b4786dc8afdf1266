import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as ioClient, Manager } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { socketIoServerTransport, type ConnectionLimitsInput } from '@fedtune/coordinator';
import { EndpointBase, FedtuneError, PROTOCOL_VERSION, type EndpointOptions, type SiteLink } from '@fedtune/shared';
import { attacker, rawWebsocketUpgrade, until, type Attacker } from '../hostile/helpers.ts';

/**
 * The transport's exact behaviour at a peer's connection (mutation module 'socket-transport'): EndpointBase's gate,
 * queue and close handlers, then the socket.io transport over a real server — the refusal a throwing handler turns
 * into, links that connect before a run takes them, the hello deadline, close and its reason, pause and resume, the
 * size a welcome unlocks and the per-address cap's words.
 */
type Messages = { hello: { id: string }; note: { n: number } };

class TestEndpoint extends EndpointBase<Messages, Messages> {
  readonly wire: Array<{ event: string; payload: unknown }> = [];
  readonly parsedEvents: string[] = [];
  parses = 0;
  constructor(options: EndpointOptions = {}) {
    super((event, raw) => {
      this.parses++;
      const r = raw as Record<string, unknown>;
      if (event === 'hello' && typeof r.id === 'string') return { id: r.id };
      if (event === 'note' && typeof r.n === 'number') return { n: r.n };
      throw new FedtuneError('malformed_payload', `bad ${event}`);
    }, options);
  }
  protected emitWire(event: string, payload: unknown): void {
    this.wire.push({ event, payload });
  }
  protected override parsed(event: string): void {
    this.parsedEvents.push(event);
  }
  close(reason = 'closed here'): void {
    this.markClosed(reason);
  }
  deliver(event: string, raw: unknown): void {
    this.receive(event, raw);
  }
  /** The queue, as the endpoint holds it (undefined when nothing waits: an idle link holds no array). */
  get queue(): unknown[] | undefined {
    return (this as unknown as { pending?: unknown[] }).pending;
  }
}

const collect = (e: TestEndpoint) => {
  const seen: string[] = [];
  e.onMessage((m) => seen.push(`${m.event}:${JSON.stringify(m.payload)}`));
  e.onInvalid((err) => seen.push(`${err.code}:${err.message}`));
  return seen;
};

describe('EndpointBase: the first-event gate', () => {
  it('refuses every other event unparsed, with its name clipped to 64 characters, until the first event passes its schema', () => {
    const e = new TestEndpoint({ firstEvent: 'hello' });
    const seen = collect(e);
    e.deliver('note', { n: 1 });
    e.deliver('x'.repeat(100), { n: 1 });
    expect(seen).toEqual([
      'unauthorized:send hello before anything else (got "note")',
      `unauthorized:send hello before anything else (got "${'x'.repeat(64)}… (36 more characters)")`,
    ]);
    expect([e.parses, e.parsedCount, e.refusedUnparsed]).toEqual([0, 0, 2]);
    // A hello that fails its schema is parsed but does not open the gate.
    e.deliver('hello', { id: 7 });
    e.deliver('note', { n: 2 });
    expect(seen.slice(2)).toEqual(['malformed_payload:bad hello', 'unauthorized:send hello before anything else (got "note")']);
    expect([e.parses, e.parsedCount, e.refusedUnparsed]).toEqual([1, 1, 3]);
    expect(e.parsedEvents).toEqual([]);
    // A valid one does: from then on every event is parsed, the hello itself included.
    e.deliver('hello', { id: 'a' });
    e.deliver('note', { n: 3 });
    e.deliver('note', { n: 'x' });
    e.deliver('hello', { id: 'b' });
    expect(seen.slice(4)).toEqual(['hello:{"id":"a"}', 'note:{"n":3}', 'malformed_payload:bad note', 'hello:{"id":"b"}']);
    expect([e.parses, e.parsedCount, e.refusedUnparsed]).toEqual([5, 5, 3]);
    expect(e.parsedEvents).toEqual(['hello', 'note', 'hello']);
  });

  it('without a first event, parses everything from the start and tells `parsed` each passing event', () => {
    const e = new TestEndpoint();
    const seen = collect(e);
    e.deliver('note', { n: 1 });
    e.deliver('other', {});
    expect(seen).toEqual(['note:{"n":1}', 'malformed_payload:bad other']);
    expect([e.parses, e.parsedCount, e.refusedUnparsed]).toEqual([2, 2, 0]);
    expect(e.parsedEvents).toEqual(['note']);
  });

  it('a non-FedtuneError thrown by the parser reaches onInvalid as malformed_payload with its words', () => {
    class Throwing extends TestEndpoint {}
    const e = new Throwing();
    (e as unknown as { parse: (ev: string, raw: unknown) => unknown }).parse = () => {
      throw new TypeError('boom');
    };
    const seen = collect(e);
    e.deliver('note', { n: 1 });
    expect(seen).toEqual(['malformed_payload:boom']);
  });
});

describe('EndpointBase: the queue and the wire', () => {
  it('a full queue drops a message before gating or parsing it, errors counting towards the limit as messages do', () => {
    const e = new TestEndpoint({ maxQueued: 2, firstEvent: 'hello' });
    e.deliver('note', { n: 1 }); // refused unparsed: queued as an error
    e.deliver('hello', { id: 'a' });
    e.deliver('hello', { id: 'b' });
    e.deliver('note', { n: 2 });
    expect([e.dropped, e.parses, e.refusedUnparsed]).toEqual([2, 1, 1]);
    expect(e.queue).toHaveLength(2);
    const seen = collect(e);
    expect(seen).toEqual(['unauthorized:send hello before anything else (got "note")', 'hello:{"id":"a"}']);
    expect(e.queue).toBeUndefined();
  });

  it('holds a message behind a waiting error until onInvalid attaches, and a message-less queue drains on onInvalid alone', () => {
    const e = new TestEndpoint();
    e.deliver('bad', {});
    const errors: string[] = [];
    e.onInvalid((err) => errors.push(err.code));
    expect(errors).toEqual(['malformed_payload']);
    expect(e.queue).toBeUndefined();
    e.deliver('note', { n: 1 });
    expect(e.queue).toHaveLength(1);
    const seen: number[] = [];
    e.onMessage((m) => seen.push((m.payload as { n: number }).n));
    expect(seen).toEqual([1]);
    expect(e.queue).toBeUndefined();
  });

  it('a handler that receives while it is handled keeps the order and leaves no queue behind', () => {
    const e = new TestEndpoint();
    const seen: number[] = [];
    e.onMessage((m) => {
      const n = (m.payload as { n: number }).n;
      seen.push(n);
      if (n < 3) e.deliver('note', { n: n + 1 });
    });
    e.deliver('note', { n: 1 });
    expect(seen).toEqual([1, 2, 3]);
    expect(e.queue).toBeUndefined();
  });

  it('sends binary fields packed, and nothing once closed', () => {
    const e = new TestEndpoint();
    e.sendUnchecked('note', { n: 1, a: new Uint8Array([1]), b: new Uint8Array([2]) });
    expect(e.wire).toHaveLength(1);
    expect(e.wire[0].event).toBe('note');
    const packed = e.wire[0].payload as Record<string, unknown>;
    expect(packed).toMatchObject({ n: 1, a: { $bin: [0, 1] }, b: { $bin: [8, 1] } });
    expect(packed.$blob).toBeInstanceOf(Uint8Array);
    e.send('note', { n: 2 });
    expect(e.wire.map((w) => (w.payload as { n: number }).n)).toEqual([1, 2]);
    e.close();
    e.send('note', { n: 3 });
    e.sendUnchecked('note', { n: 4 });
    expect(e.wire).toHaveLength(2);
  });

  it('a close handler added after the close gets the first close reason at once; closing again calls no handler and keeps it', () => {
    const e = new TestEndpoint();
    expect(e.closed).toBe(false);
    const calls: string[] = [];
    e.onClose((r) => calls.push(`a ${r}`));
    e.close();
    expect(e.closed).toBe(true);
    e.close('another reason');
    e.onClose((r) => calls.push(`b ${r}`));
    expect(calls).toEqual(['a closed here', 'b closed here']);
  });

  it('an error a message handler receives after a nested flush drained the queue waits for onInvalid, not lost', () => {
    const e = new TestEndpoint();
    const seen: string[] = [];
    e.onMessage((m) => {
      const n = (m.payload as { n: number }).n;
      seen.push(`m${n}`);
      if (n === 1) {
        e.deliver('note', { n: 2 }); // delivered at once, by a nested flush that empties the queue
        e.deliver('bad', {}); // no onInvalid yet: waits in a new queue
      }
    });
    e.deliver('note', { n: 1 });
    expect(seen).toEqual(['m1', 'm2']);
    expect(e.queue).toHaveLength(1);
    e.onInvalid((err) => seen.push(err.code));
    expect(seen).toEqual(['m1', 'm2', 'malformed_payload']);
  });
});

/** A real socket.io server on port 0 with the coordinator's transport; `attach`: take links as they connect (a run). */
async function serve(limits: ConnectionLimitsInput = {}, attach = true, transports: Array<'websocket' | 'polling'> = ['websocket']) {
  const http = createServer();
  const io = new Server(http, { maxHttpBufferSize: 1_000_000, transports });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const transport = socketIoServerTransport(io, limits);
  // Another namespace on the same connection (as a browser page might hold beside its site's).
  io.of('/other').on('connection', () => {});
  const links: SiteLink[] = [];
  const closes: string[] = [];
  const take = (link: SiteLink) => {
    links.push(link);
    link.onClose((r) => closes.push(r));
  };
  if (attach) transport.onConnection(take);
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const port = (http.address() as AddressInfo).port;
  return { url, port, io, links, closes, attach: () => transport.onConnection(take), close: () => transport.close() };
}

const hello = (a: Attacker, siteId = 'site-a') => a.hello(siteId);
let servers: Array<{ close(): Promise<void> }> = [];
const open = async (...args: Parameters<typeof serve>) => {
  const s = await serve(...args);
  servers.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('socket.io transport over a real server', () => {
  it('a handler that throws on a message becomes a typed refusal to the peer, and the connection and server stay up', async () => {
    const server = await open();
    const evil = await attacker(server.url);
    await until(() => server.links.length === 1, 'the link');
    const link = server.links[0];
    link.onMessage((m) => {
      if (m.event === 'hello') throw new Error('handler bug');
    });
    link.onInvalid(() => {});
    hello(evil);
    expect(await evil.next('rejected')).toEqual({ code: 'internal', reason: 'the coordinator could not handle this message' });
    // The link still works both ways.
    link.sendUnchecked('note', { n: 1 });
    expect(await evil.next('note')).toEqual({ n: 1 });
    expect(evil.socket.connected).toBe(true);
  });

  it('links that connect before a run takes them are handed over in order when it does, with what they sent queued', async () => {
    const server = await open({}, false);
    const a = await attacker(server.url);
    const b = await attacker(server.url);
    hello(a, 'site-a');
    await new Promise((r) => setTimeout(r, 100));
    expect(server.links).toHaveLength(0);
    server.attach();
    expect(server.links.map((l) => l.id)).toEqual([a.socket.id, b.socket.id]);
    const seen: string[] = [];
    server.links[0].onMessage((m) => seen.push(`${m.event} ${(m.payload as { siteId: string }).siteId}`));
    expect(seen).toEqual(['hello site-a']);
  });

  it('closes a connection that sends no valid hello in time with the deadline in its words, and keeps one whose hello passed', async () => {
    const server = await open({ helloTimeoutMs: 300 });
    const idle = await attacker(server.url);
    const greeted = await attacker(server.url);
    await until(() => server.links.length === 2, 'both links');
    for (const l of server.links) {
      l.onMessage(() => {});
      l.onInvalid(() => {});
    }
    hello(greeted);
    expect(await idle.closed).toBe('io server disconnect');
    expect(idle.received).toEqual([{ event: 'rejected', payload: { code: 'timeout', reason: 'no hello within 300 ms of connecting' } }]);
    await new Promise((r) => setTimeout(r, 400));
    expect(greeted.socket.connected).toBe(true);
    expect(greeted.received).toEqual([]);
    expect(server.closes).toEqual(['closed by the coordinator']);
  });

  it('close() delivers what was sent just before it, then disconnects; a peer leaving gives its own reason', async () => {
    const server = await open();
    const a = await attacker(server.url);
    const b = await attacker(server.url);
    await until(() => server.links.length === 2, 'both links');
    const [la, lb] = server.links;
    la.sendUnchecked('bye', { n: 1 });
    la.close();
    expect(la.closed).toBe(true);
    la.sendUnchecked('late', { n: 2 });
    expect(await a.closed).toBe('io server disconnect');
    expect(a.received.map((m) => m.event)).toEqual(['bye']);
    // The whole connection goes, not only the namespace.
    await until(() => server.io.engine.clientsCount === 1, 'only b\'s connection left');
    b.socket.close();
    await until(() => server.closes.length === 2, 'the second close');
    expect(server.closes).toEqual(['closed by the coordinator', 'client namespace disconnect']);
    expect(lb.closed).toBe(true);
  });

  it('pauseReceiving holds the peer\'s messages in the network until resumeReceiving', async () => {
    const server = await open();
    const a = await attacker(server.url);
    await until(() => server.links.length === 1, 'the link');
    const link = server.links[0];
    const seen: string[] = [];
    link.onMessage((m) => seen.push(m.event));
    link.onInvalid((err) => seen.push(err.code));
    hello(a);
    await until(() => seen.length === 1, 'the hello');
    link.pauseReceiving!();
    link.pauseReceiving!(); // twice: one resume still resumes
    a.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(['hello']);
    link.resumeReceiving!();
    await until(() => seen.length === 2, 'the heartbeat after the resume');
    expect(seen[1]).toBe('heartbeat');
    link.resumeReceiving!(); // not paused: nothing happens
    a.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    await until(() => seen.length === 3, 'a later heartbeat');
    // Paused again after a resume: held again.
    link.pauseReceiving!();
    a.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toHaveLength(3);
    link.resumeReceiving!();
    await until(() => seen.length === 4, 'the heartbeat after the second resume');
  });

  it('a link its peer closed does not pause its socket', async () => {
    const server = await open();
    const peer = await attacker(server.url);
    await until(() => server.links.length === 1, 'the link');
    const link = server.links[0];
    peer.socket.disconnect();
    await until(() => link.closed, 'the link closed by its peer');
    link.pauseReceiving!();
    expect((link as unknown as { pausedWebsocket?: unknown }).pausedWebsocket).toBeUndefined();
  });

  it('a link the coordinator closes is no longer read: its websocket is paused as it closes', async () => {
    const server = await open();
    await attacker(server.url);
    await until(() => server.links.length === 1, 'the link');
    const link = server.links[0];
    const received: string[] = [];
    link.onMessage((m) => received.push(m.event));
    link.close();
    expect((link as unknown as { pausedWebsocket?: unknown }).pausedWebsocket).toBeDefined();
    expect(link.closed).toBe(true);
    // Read again once the socket is gone, so the closing handshake finishes: a shutdown right after does not wait for
    // the websocket's 30 s close timeout.
    await until(() => (link as unknown as { pausedWebsocket?: unknown }).pausedWebsocket === undefined, 'the link read again after its disconnect');
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('until its welcome a connection may send at most the pre-hello size; after it, the server\'s full size', async () => {
    const server = await open({ preHelloMessageBytes: 4096 });
    const before = await attacker(server.url);
    const after = await attacker(server.url);
    await until(() => server.links.length === 2, 'both links');
    const received: string[] = [];
    for (const l of server.links) {
      l.onMessage((m) => received.push(m.event));
      l.onInvalid((err) => received.push(err.code));
    }
    // What the server sends before the welcome (a refusal, terms) does not raise the limit.
    server.links[0].sendUnchecked('terms', { runId: 'r' });
    await before.next('terms');
    hello(after, 'site-b');
    await until(() => received.length === 1, 'the hello');
    server.links[1].sendUnchecked('welcome', { runId: 'r', siteId: 'site-b', protocol: PROTOCOL_VERSION });
    await after.next('welcome');
    const big = { siteId: 'x'.repeat(20_000), status: 'idle' };
    after.socket.emit('heartbeat', big);
    await until(() => received.length === 2, 'the large message after the welcome');
    expect(after.socket.connected).toBe(true);
    before.socket.emit('heartbeat', big);
    await before.closed;
    expect(received).toHaveLength(2);
  });

  it('past the cap of unwelcomed connections per address, a new one is told why and gets no link', async () => {
    const server = await open({ maxUnwelcomedPerAddress: 2 });
    await attacker(server.url);
    await attacker(server.url);
    await expect(attacker(server.url)).rejects.toThrow('too many connections from this address waiting to join (2): retry later');
    await new Promise((r) => setTimeout(r, 100));
    expect(server.links).toHaveLength(2);
  });

  it('after hello, an unknown event is refused by the parser with its name clipped once, at 64 characters; a numeric name as its digits', async () => {
    const server = await open();
    const a = await attacker(server.url);
    await until(() => server.links.length === 1, 'the link');
    const seen: string[] = [];
    server.links[0].onMessage((m) => seen.push(m.event));
    server.links[0].onInvalid((err) => seen.push(`${err.code}: ${err.message}`));
    hello(a);
    a.socket.emit('y'.repeat(400), {});
    a.socket.emit(5 as unknown as string, {});
    await until(() => seen.length === 3, 'three messages');
    expect(seen).toEqual(['hello', `malformed_payload: unknown client event "${'y'.repeat(64)}… (336 more characters)"`, 'malformed_payload: unknown client event "5"']);
  });

  it('a peer that ignores the close frame loses its TCP connection a second after the coordinator closes its link, not 30 s', async () => {
    const server = await open();
    const s = await rawWebsocketUpgrade(server.port);
    try {
      s.on('data', () => {});
      // socket.io's namespace connect ("40", a masked text frame with the zero key).
      s.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x34, 0x30]));
      await until(() => server.links.length === 1, 'the link');
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      const started = Date.now();
      server.links[0].close();
      await closed;
      const ms = Date.now() - started;
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(10_000);
      expect(server.closes).toEqual(['closed by the coordinator']);
    } finally {
      s.destroy();
    }
  }, 20_000);

  it('a connection without a websocket (long-polling, where a host of the transport allows it) is taken, welcomed and never paused', async () => {
    const server = await open({ preHelloMessageBytes: 4096 }, true, ['polling']);
    const client = ioClient(server.url, { transports: ['polling'], reconnection: false, forceNew: true });
    try {
      const got: string[] = [];
      client.onAny((event: string) => got.push(event));
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('connect_error', reject);
      });
      await until(() => server.links.length === 1, 'the link');
      const link = server.links[0];
      const seen: string[] = [];
      link.onMessage((m) => seen.push(m.event));
      link.onInvalid((err) => seen.push(err.code));
      link.pauseReceiving!();
      client.emit('hello', { protocol: PROTOCOL_VERSION, siteId: 'site-p', capabilities: { backend: 'cpu', runtime: 'node', numExamples: 4 } });
      await until(() => seen.length === 1, 'the hello, though asked to pause');
      link.resumeReceiving!();
      link.sendUnchecked('welcome', { runId: 'r', siteId: 'site-p', protocol: PROTOCOL_VERSION });
      await until(() => got.includes('welcome'), 'the welcome');
      expect(seen).toEqual(['hello']);
      expect(client.connected).toBe(true);
    } finally {
      client.close();
    }
  });

  it('close() stops the server taking connections and resolves', async () => {
    const server = await serve();
    await expect(server.close()).resolves.toBeUndefined();
    await expect(attacker(server.url)).rejects.toThrow();
  });

  it('a peer that leaves the site\'s namespace keeps its connection for another one (only a close by the coordinator destroys it)', async () => {
    const server = await open();
    const manager = new Manager(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    const site = manager.socket('/');
    const other = manager.socket('/other');
    try {
      await Promise.all([site, other].map((s) => new Promise<void>((r) => s.once('connect', () => r()))));
      await until(() => server.links.length === 1, 'the link');
      site.disconnect();
      await until(() => server.closes.length === 1, 'the site link closed');
      expect(server.closes).toEqual(['client namespace disconnect']);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(other.connected).toBe(true);
    } finally {
      other.disconnect();
      site.disconnect();
    }
  });
});
