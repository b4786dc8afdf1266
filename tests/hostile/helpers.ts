import { connect, type Socket as TcpSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { deriveSeed, PROTOCOL_VERSION, SiteClient, socketIoConnector, splitDataset, type SiteEvent } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tinyData } from '../access/helpers.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';
import { messageInbox } from '../helpers/message-inbox.ts';

/** A raw socket.io client: speaks the wire protocol with no schema on its side, as an attacker does. */
export interface Attacker {
  socket: Socket;
  /** Every event the coordinator sent, in order. */
  received: Array<{ event: string; payload: unknown }>;
  /** Resolves when the coordinator (or this side) closes the connection. */
  closed: Promise<string>;
  /** Waits for the next not-yet-consumed event of that name. */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  hello(siteId: string, token?: string, numExamples?: number): void;
}

/** `localAddress`: the loopback address it connects from (e.g. 127.0.0.2), as another host would. */
export function attacker(url: string, localAddress?: string): Promise<Attacker> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5_000, ...(localAddress ? { localAddress } : {}) });
  const inbox = messageInbox<{ event: string; payload: unknown }>();
  socket.onAny((event: string, payload: unknown) => inbox.push({ event, payload }));
  const closed = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(String(reason))));
  let helloId: string | undefined;
  // It accepts the run's terms as the site it said hello as (docs/site-policy.md#join), so it can join.
  socket.on('terms', (p: { terms?: { runId?: string }; hash?: string }) => {
    if (helloId) socket.emit('acceptTerms', { runId: p?.terms?.runId, siteId: helloId, hash: p?.hash });
  });
  const self: Attacker = {
    socket,
    received: inbox.messages,
    closed,
    next: (event, timeoutMs = 10_000) => inbox.next(event, timeoutMs) as Promise<Record<string, unknown>>,
    hello: (siteId, token, numExamples = 40) => {
      helloId = siteId;
      socket.emit('hello', { protocol: PROTOCOL_VERSION, siteId, token, capabilities: { backend: 'cpu', runtime: 'node', numExamples } });
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(self));
    socket.once('connect_error', reject);
  });
}

/** Waits until `condition` holds (polling), or fails with `what`. */
/** What a fresh connection's hello as `siteId` gets: 'welcome', or the refusal's payload; the connection is closed after. */
export async function helloAnswer(url: string, siteId: string): Promise<'welcome' | Record<string, unknown>> {
  const peer = await attacker(url);
  peer.hello(siteId);
  const first = await Promise.race([peer.next('welcome').then(() => 'welcome' as const), peer.next('rejected')]);
  peer.socket.close();
  return first;
}

export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An honest site (the real SiteClient) on the tiny task of tests/access/helpers.ts. */
export async function honestSite(
  url: string,
  siteId: string,
  options: { token?: string; reconnect?: { retries: number; baseDelayMs?: number; maxDelayMs?: number }; seed?: number; examples?: number; localAddress?: string } = {},
): Promise<{ client: SiteClient; events: SiteEvent[]; run: ReturnType<SiteClient['run']>; numExamples: number }> {
  const backend = await selectNodeBackend();
  const events: SiteEvent[] = [];
  const data = splitDataset(tinyData(options.examples ?? 60, options.seed ?? 2), deriveSeed(1, 'split', siteId));
  const client = new SiteClient({
    policy: testSitePolicy(),
    siteId,
    token: options.token,
    connector: socketIoConnector({ url, ...(options.localAddress ? { extra: { localAddress: options.localAddress } } : {}) }),
    data,
    backend: backend.backend,
    runtime: 'node',
    reconnect: options.reconnect,
    heartbeatMs: 200,
    onEvent: (e) => events.push(e),
  });
  return { client, events, run: client.run(), numExamples: data.train.y.length };
}

/**
 * A raw TCP connection upgraded to a websocket on the socket.io endpoint (engine.io's handshake answered), with
 * nothing else sent: a peer that speaks the wire protocol by hand. Errors are swallowed (the server may cut it).
 */
export async function rawWebsocketUpgrade(port: number): Promise<TcpSocket> {
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(
    `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((r) => s.once('data', () => r()));
  return s;
}
