import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connectSocketIo } from 'socket.io-client';
import WebSocket from 'ws';
import { loadModelDir, pretrainedModelDir, startCoordinator, type EngineEvent, type RunningCoordinator } from '@fedtune/coordinator';
import { PROTOCOL_VERSION } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

/**
 * Raw engine.io / socket.io frames against a real coordinator (socket.io on a port-0 HTTP server): a peer
 * that does not use the socket.io client can send any text or binary frame. Whatever it sends, the
 * coordinator stays up (no unhandled exception), what it records about the peer stays small, and an honest
 * site can still join afterwards.
 */

interface RawPeer {
  send(frame: string | Buffer): void;
  /** Frames received so far (text frames as strings). */
  received: string[];
  closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

/** Opens an engine.io v4 websocket, answers pings, and resolves once the open packet ('0{…}') arrived. */
function openRawPeer(url: string): Promise<RawPeer> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { maxPayload: 64 * 1024 * 1024 });
  const received: string[] = [];
  let closed = false;
  const closedPromise = new Promise<void>((resolve) => ws.on('close', () => ((closed = true), resolve())));
  ws.on('error', () => undefined); // a refused or reset connection is an acceptable outcome
  return new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '<binary>' : data.toString();
      received.push(text);
      if (text === '2') ws.send('3');
      if (text.startsWith('0{')) {
        resolve({
          send: (frame) => {
            if (ws.readyState === WebSocket.OPEN) ws.send(frame);
          },
          received,
          closed: closedPromise,
          isClosed: () => closed,
          close: () => ws.close(),
        });
      }
    });
    ws.on('close', () => reject(new Error('closed before the engine.io open packet')));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the peer is closed or `ms` passed. */
async function settle(peer: RawPeer, ms = 300): Promise<void> {
  await Promise.race([peer.closed, sleep(ms)]);
}

/** Waits until the peer received a 'rejected' frame, is closed, or `ms` passed (a 10 MB frame takes a while to parse on a busy machine). */
async function rejectionOrClose(peer: RawPeer, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!peer.isClosed() && Date.now() < deadline && !peer.received.some((f) => f.startsWith('42["rejected"'))) await sleep(20);
}

const validHello = (siteId: string) => ({ protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 10 } });

const deepArray = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
const TEN_MB = 10 * 1024 * 1024;

/** Scripts of hostile frames, each sent on a fresh connection after the socket.io CONNECT ('40'). */
const SIXTY_KB = 60 * 1024;
/** `closes`: the connection is closed unread (a message past the pre-hello limit of 64 KB, ConnectionLimits.preHelloMessageBytes). */
const scripts: Array<{ name: string; connect?: boolean; frames: Array<string | Buffer>; refusedWith?: string; closes?: true }> = [
  { name: 'engine.io packet types that do not exist or make no sense from a client', connect: false, frames: ['', '9', '7', '5', '6', '1', 'x', '0', '0{"sid":"forged"}'] },
  { name: 'binary frame before any socket.io packet', connect: false, frames: [Buffer.from([4, 1, 2, 3])] },
  { name: 'socket.io packet types that do not exist', frames: ['4', '47[]', '48', '49["hello"]', '4x', '4-1'] },
  { name: 'events that are not JSON or not an event array', frames: ['42', '42[', '42{"hello":1}', '42"hello"', '42[]', '42[null]', '42[1,{}]', '42[{"a":1}]', '42["hello"', '42["hello",{"protocol":1}]]', '42\u0000\u0001'] },
  { name: 'a binary event that declares an attachment and sends none', frames: ['451-["fitResult",{"_placeholder":true,"num":0}]', '42["heartbeat",{"siteId":"a","status":"idle"}]'] },
  { name: 'a binary event with no dash, a negative or an absurd attachment count', frames: ['451["x"]', '45-1-["x"]', '450-["x"]', '4599999999999999999999-["x"]', '45NaN-["x"]'] },
  { name: 'a binary event that declares 1000 attachments and sends a few', frames: ['451000-["fitResult",{"_placeholder":true,"num":999}]', Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(16)] },
  { name: 'placeholders that point at attachments that do not exist', frames: ['451-["fitResult",{"weights":{"_placeholder":true,"num":7}}]', Buffer.alloc(8), '451-["fitResult",{"weights":{"_placeholder":true,"num":-1}}]', Buffer.alloc(8), '451-["fitResult",{"weights":{"_placeholder":"yes","num":"0"}}]', Buffer.alloc(8)] },
  { name: 'binary frames interleaved without a header', frames: [Buffer.alloc(4), Buffer.alloc(1024), '42["heartbeat",{"siteId":"a","status":"idle"}]', Buffer.from('42["hello"]')] },
  { name: 'namespaces that do not exist, and garbage namespaces', frames: ['40/admin,', '40/nope,{"token":"x"}', `40/${'n'.repeat(100_000)},`, '42/admin,["hello",{}]', '41/,', '40/,,,,', '40{"a":'] },
  { name: 'ack ids: huge, on unknown events, acks nobody asked for', frames: ['42999999999999999999999999["hello",{}]', '421["heartbeat",{"siteId":"a","status":"idle"}]', '43123[]', '43["x"]', '4612-[]', '43999999999999999999[{"a":1}]'] },
  { name: 'deeply nested JSON in an event (100,000 levels)', frames: [`42["hello",${deepArray(100_000)}]`, `42[${deepArray(100_000, '"hello"')}]`] },
  { name: 'deeply nested placeholders in a binary event (100,000 levels)', frames: [`451-["fitResult",${deepArray(100_000, '{"_placeholder":true,"num":0}')}]`, Buffer.alloc(8)] },
  { name: 'a 60 KB event name', frames: [`42["${'e'.repeat(SIXTY_KB)}",{}]`], refusedWith: 'unauthorized' },
  { name: 'a 60 KB string in a hello', frames: [`42["hello",{"protocol":1,"siteId":"${'s'.repeat(SIXTY_KB)}","capabilities":{}}]`], refusedWith: 'malformed_payload' },
  { name: 'a 10 MB event name', frames: [`42["${'e'.repeat(TEN_MB)}",{}]`], closes: true },
  { name: 'a 10 MB string in a hello', frames: [`42["hello",{"protocol":1,"siteId":"${'s'.repeat(TEN_MB)}","capabilities":{}}]`], closes: true },
  { name: 'messages before hello, with prototype keys', frames: ['42["fitResult",{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}]', '42["__proto__",{}]', '42["toString",{}]', '42["hasOwnProperty",{}]'] },
];

describe('raw engine.io / socket.io frames against a real coordinator', () => {
  let coordinator: RunningCoordinator;
  const events: EngineEvent[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);

  beforeAll(async () => {
    process.on('uncaughtException', onUnhandled);
    process.on('unhandledRejection', onUnhandled);
    const backend = await selectNodeBackend();
    coordinator = await startCoordinator({
      runsDir: tempDir(),
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 50),
      backend: backend.backend,
      transport: 'socket',
      onEvent: (e) => void events.push(e),
      // The run never starts (it waits for 1000 sites): hellos are answered with a welcome.
      config: { runId: 'raw-frames', rounds: 1, minSites: 1000, seed: 1, joinTimeoutMs: 600_000, robustness: { when: 'never' } },
    });
  });

  afterAll(async () => {
    await coordinator?.close();
    process.off('uncaughtException', onUnhandled);
    process.off('unhandledRejection', onUnhandled);
  });

  async function expectHonestSiteWelcomed(siteId: string): Promise<void> {
    const socket = connectSocketIo(coordinator.url!, { transports: ['websocket'], reconnection: false });
    try {
      const welcome = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${siteId} got no welcome`)), 10_000);
        socket.on('welcome', (w: unknown) => (clearTimeout(timer), resolve(w)));
        socket.on('connect_error', (e) => (clearTimeout(timer), reject(e)));
        socket.emit('hello', validHello(siteId));
      });
      expect(welcome).toEqual({ protocol: PROTOCOL_VERSION, runId: 'raw-frames', siteId });
    } finally {
      socket.close();
    }
  }

  it.each(scripts.map((s, i) => [s.name, i] as const))('%s: the coordinator stays up and an honest site still joins', async (_name, i) => {
    const script = scripts[i];
    const before = events.length;
    const peer = await openRawPeer(coordinator.url!);
    if (script.connect !== false) {
      peer.send('40');
      await sleep(50);
    }
    for (const frame of script.frames) peer.send(frame);
    if (script.refusedWith || script.closes) await rejectionOrClose(peer, 10_000);
    else await settle(peer);
    if (script.closes) {
      expect(peer.isClosed()).toBe(true);
      expect(peer.received.filter((f) => f.startsWith('42['))).toEqual([]);
    }
    peer.close();
    await expectHonestSiteWelcomed(`honest-${i}`);
    const health = await fetch(`${coordinator.url}/api/health`);
    expect(health.status).toBe(200);
    // What the coordinator recorded about this peer stays small, whatever the peer sent.
    for (const e of events.slice(before)) expect(JSON.stringify(e).length).toBeLessThanOrEqual(4096);
    // So do the replies it sent back. (Exception: socket.io itself answers a CONNECT to an unknown namespace
    // with '44/<that namespace>,{"message":"Invalid namespace"}', echoing the peer's own name to the peer only.)
    for (const frame of peer.received.filter((f) => !f.startsWith('44/'))) expect(frame.length).toBeLessThanOrEqual(4096);
    if (script.refusedWith) {
      const rejected = peer.received.filter((f) => f.startsWith('42["rejected"')).map((f) => JSON.parse(f.slice(2))[1] as { code: string });
      expect(rejected.map((r) => r.code)).toContain(script.refusedWith);
    }
    expect(unhandled).toEqual([]);
  });

  it('a frame over the message size limit closes only that connection', async () => {
    const peer = await openRawPeer(coordinator.url!);
    peer.send('40');
    await sleep(50);
    peer.send(`42["hello",{"x":"${'a'.repeat(17 * 1024 * 1024)}"}]`);
    await settle(peer, 5000);
    expect(peer.isClosed()).toBe(true);
    await expectHonestSiteWelcomed('honest-after-oversize');
    expect(unhandled).toEqual([]);
  });

  it('a site that joined is not disturbed by hostile frames on another connection', async () => {
    const site = connectSocketIo(coordinator.url!, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve) => {
      site.on('welcome', () => resolve());
      site.emit('hello', validHello('steady-site'));
    });
    const peer = await openRawPeer(coordinator.url!);
    peer.send('40');
    await sleep(50);
    for (const script of scripts) for (const frame of script.frames) peer.send(frame);
    await settle(peer, 1000);
    peer.close();
    expect(site.connected).toBe(true);
    site.close();
    expect(unhandled).toEqual([]);
  });
});
