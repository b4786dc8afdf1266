import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeWeights,
  encodeWeights,
  FedtuneError,
  PROTOCOL_VERSION,
  type ClientConnector,
  type ClientToServer,
  type CoordinatorLink,
  type MessageOf,
  type ServerToClient,
  type ServerTransport,
  type SiteLink,
} from '@fedtune/shared';

export interface TransportUnderTest {
  server: ServerTransport;
  connector: ClientConnector;
  /** Largest message the transport accepts. */
  maxMessageBytes: number;
  close(): Promise<void>;
}

function waitFor<T>(register: (resolve: (value: T) => void) => void, what: string, ms = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

const hello = (siteId: string) => ({ protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node' as const, numExamples: 3 } });

/**
 * The conformance suite every transport passes (socket.io and the in-memory network): typed, validated
 * messages both ways, binary payloads intact, malformed input rejected with a reason without breaking
 * the connection, order preserved, closes seen by both ends, oversized messages refused.
 */
export function runTransportConformance(name: string, make: () => Promise<TransportUnderTest>): void {
  describe(`transport conformance: ${name}`, () => {
    let t: TransportUnderTest | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    async function connectPair(): Promise<{ site: SiteLink; client: CoordinatorLink; serverMessages: Array<MessageOf<ClientToServer>> }> {
      t = t ?? (await make());
      const serverMessages: Array<MessageOf<ClientToServer>> = [];
      const sitePromise = waitFor<SiteLink>((resolve) => t!.server.onConnection((link) => {
        link.onMessage((m) => serverMessages.push(m));
        resolve(link);
      }), 'connection');
      const client = await t.connector.connect();
      const site = await sitePromise;
      return { site, client, serverMessages };
    }

    /** A pair whose client has said hello (delivered, then cleared from `serverMessages`): everything after it is parsed. */
    async function joinedPair(): Promise<{ site: SiteLink; client: CoordinatorLink; serverMessages: Array<MessageOf<ClientToServer>> }> {
      const pair = await connectPair();
      pair.client.send('hello', hello('site-a'));
      await waitFor<void>((r) => { const i = setInterval(() => pair.serverMessages.length > 0 && (clearInterval(i), r()), 5); }, 'hello');
      pair.serverMessages.splice(0);
      return pair;
    }

    it('delivers a validated client message to the server', async () => {
      const { client, serverMessages } = await connectPair();
      client.send('hello', hello('site-a'));
      await waitFor<void>((r) => { const i = setInterval(() => serverMessages.length > 0 && (clearInterval(i), r()), 5); }, 'hello');
      expect(serverMessages[0].event).toBe('hello');
      expect(serverMessages[0].payload).toMatchObject({ siteId: 'site-a', capabilities: { numExamples: 3 } });
    });

    it('carries weights as binary, bit-exact, both ways', async () => {
      const { site, client, serverMessages } = await joinedPair();
      const values = Float32Array.from({ length: 10_001 }, (_, i) => Math.fround(Math.cos(i) * 1e-3));
      const bytes = encodeWeights({ manifest: [{ name: 'w', shape: [10_001], dtype: 'float32' }], arrays: [values] });
      const received = waitFor<MessageOf<ServerToClient>>((r) => client.onMessage(r), 'fit');
      site.send('fit', { runId: 'r', round: 1, modelVersion: 0, weights: bytes, config: { epochs: 1, batchSize: 4, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 1 } });
      const msg = await received;
      expect(msg.event).toBe('fit');
      if (msg.event !== 'fit') return;
      expect(msg.payload.weights).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(decodeWeights(msg.payload.weights!).arrays[0].buffer.slice(0)).length).toBeGreaterThan(0);
      expect(Array.from(decodeWeights(msg.payload.weights!).arrays[0])).toEqual(Array.from(values));
      client.send('fitResult', { runId: 'r', round: 1, siteId: 'a', weights: bytes, numExamples: 3, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
      await waitFor<void>((r) => { const i = setInterval(() => serverMessages.length > 0 && (clearInterval(i), r()), 5); }, 'fitResult');
      const back = serverMessages[0];
      expect(back.event).toBe('fitResult');
      if (back.event === 'fitResult') expect(Array.from(decodeWeights(back.payload.weights).arrays[0])).toEqual(Array.from(values));
    });

    it('rejects a malformed payload with a typed reason and keeps the connection usable', async () => {
      t = await make();
      const invalid: FedtuneError[] = [];
      const messages: string[] = [];
      const sitePromise = waitFor<SiteLink>((resolve) => t!.server.onConnection((link) => {
        link.onInvalid((e) => invalid.push(e));
        link.onMessage((m) => messages.push(m.event));
        resolve(link);
      }), 'connection');
      const client = await t.connector.connect();
      await sitePromise;
      client.send('hello', hello('site-b'));
      client.sendUnchecked('fitResult', { runId: 'r', round: 'one', weights: 'not bytes' });
      client.sendUnchecked('noSuchEvent', { x: 1 });
      client.send('heartbeat', { siteId: 'site-b', status: 'idle' });
      await waitFor<void>((r) => { const i = setInterval(() => messages.length > 1 && (clearInterval(i), r()), 5); }, 'heartbeat after garbage');
      expect(invalid).toHaveLength(2);
      expect(invalid.every((e) => e instanceof FedtuneError && e.code === 'malformed_payload')).toBe(true);
      expect(invalid[0].message).toMatch(/round|weights/);
      expect(invalid[1].message).toMatch(/unknown client event "noSuchEvent"/);
      expect(messages).toEqual(['hello', 'heartbeat']);
    });

    it('refuses every event before a hello has passed its schema without parsing it', async () => {
      t = await make();
      const invalid: FedtuneError[] = [];
      const messages: string[] = [];
      const sitePromise = waitFor<SiteLink>((resolve) => t!.server.onConnection((link) => {
        link.onInvalid((e) => invalid.push(e));
        link.onMessage((m) => messages.push(m.event));
        resolve(link);
      }), 'connection');
      const client = await t.connector.connect();
      const site = (await sitePromise) as SiteLink & { parsedCount: number; refusedUnparsed: number };
      client.send('heartbeat', { siteId: 'site-b', status: 'idle' });
      client.sendUnchecked('secaggShareKeys', { shares: Array.from({ length: 1000 }, () => 0) });
      client.sendUnchecked('hello', { protocol: PROTOCOL_VERSION, siteId: 'not a site id!' });
      client.sendUnchecked('noSuchEvent', { x: 1 });
      client.send('hello', hello('site-b'));
      client.send('heartbeat', { siteId: 'site-b', status: 'idle' });
      await waitFor<void>((r) => { const i = setInterval(() => messages.length > 1 && (clearInterval(i), r()), 5); }, 'heartbeat after hello');
      expect(invalid.map((e) => e.code)).toEqual(['unauthorized', 'unauthorized', 'malformed_payload', 'unauthorized']);
      expect(invalid[0].message).toMatch(/send hello before anything else \(got "heartbeat"\)/);
      expect(messages).toEqual(['hello', 'heartbeat']);
      // Only the three hellos and the heartbeat after the valid one went through the parser.
      expect(site.parsedCount).toBe(3);
      expect(site.refusedUnparsed).toBe(3);
    });

    it('preserves message order', async () => {
      const { client, serverMessages } = await connectPair();
      for (let i = 0; i < 50; i++) client.send('hello', hello(`s-${i}`));
      await waitFor<void>((r) => { const i = setInterval(() => serverMessages.length >= 50 && (clearInterval(i), r()), 5); }, '50 messages');
      expect(serverMessages.map((m) => (m.payload as { siteId: string }).siteId)).toEqual(Array.from({ length: 50 }, (_, i) => `s-${i}`));
    });

    it('pauseReceiving holds a connection’s messages (and its close) until resumeReceiving, then delivers them in order', async () => {
      const { site, client, serverMessages } = await joinedPair();
      expect(typeof site.pauseReceiving).toBe('function');
      expect(typeof site.resumeReceiving).toBe('function');
      site.pauseReceiving!();
      site.pauseReceiving!(); // twice: still one pause
      for (let i = 0; i < 5; i++) client.send('heartbeat', { siteId: 'site-a', status: 'idle' });
      const closedSeen: string[] = [];
      site.onClose((r) => closedSeen.push(r));
      client.close();
      await new Promise((r) => setTimeout(r, 300));
      expect(serverMessages).toHaveLength(0);
      expect(closedSeen).toHaveLength(0);
      site.resumeReceiving!();
      site.resumeReceiving!(); // twice: nothing more happens
      await waitFor<void>((r) => { const i = setInterval(() => closedSeen.length > 0 && (clearInterval(i), r()), 5); }, 'the close after the resume');
      expect(serverMessages.map((m) => m.event)).toEqual(['heartbeat', 'heartbeat', 'heartbeat', 'heartbeat', 'heartbeat']);
    });

    it('a connection that is not paused is not held by resumeReceiving', async () => {
      const { site, client, serverMessages } = await joinedPair();
      site.resumeReceiving?.();
      client.send('heartbeat', { siteId: 'site-a', status: 'idle' });
      await waitFor<void>((r) => { const i = setInterval(() => serverMessages.length > 0 && (clearInterval(i), r()), 5); }, 'heartbeat');
      expect(serverMessages.map((m) => m.event)).toEqual(['heartbeat']);
    });

    it('tells the server when a client leaves, and the client when the server closes it', async () => {
      const first = await connectPair();
      const serverSaw = waitFor<string>((r) => first.site.onClose(r), 'server-side close');
      first.client.close();
      expect(typeof (await serverSaw)).toBe('string');
      expect(first.site.closed).toBe(true);

      const second = await connectPair();
      const clientSaw = waitFor<string>((r) => second.client.onClose(r), 'client-side close');
      second.site.close();
      expect(typeof (await clientSaw)).toBe('string');
      expect(second.client.closed).toBe(true);
    });

    it('gives each connection its own link', async () => {
      t = await make();
      const links: SiteLink[] = [];
      t.server.onConnection((l) => links.push(l));
      await t.connector.connect();
      await t.connector.connect();
      await waitFor<void>((r) => { const i = setInterval(() => links.length === 2 && (clearInterval(i), r()), 5); }, 'two links');
      expect(links[0].id).not.toBe(links[1].id);
    });

    it('carries messages with many binary fields intact both ways (secure aggregation for 50 sites)', async () => {
      const { site, client, serverMessages } = await joinedPair();
      const ids = Array.from({ length: 50 }, (_, i) => `site-${String(i).padStart(2, '0')}`);
      const key = (i: number, salt: number) => Uint8Array.from({ length: 32 }, (_, j) => (i * 7 + j + salt) & 255);
      const keys = ids.map((siteId, i) => ({ siteId, encryptionPublicKey: key(i, 1), maskingPublicKey: key(i, 2) }));
      const received = waitFor<MessageOf<ServerToClient>>((r) => client.onMessage(r), 'secaggKeys');
      site.send('secaggKeys', { runId: 'r', round: 1, attempt: 1, keys });
      const down = await received;
      expect(down.event).toBe('secaggKeys');
      if (down.event !== 'secaggKeys') return;
      expect(down.payload.keys.map((k) => k.siteId)).toEqual(ids);
      expect(down.payload.keys.map((k) => Array.from(k.encryptionPublicKey))).toEqual(keys.map((k) => Array.from(k.encryptionPublicKey)));
      expect(down.payload.keys.map((k) => Array.from(k.maskingPublicKey))).toEqual(keys.map((k) => Array.from(k.maskingPublicKey)));
      const shares = ids.map((to, i) => ({ from: 'site-00', to, nonce: key(i, 3).subarray(0, 12), ciphertext: key(i, 4).subarray(0, 5 + (i % 9)) }));
      client.send('secaggShareKeys', { runId: 'r', round: 1, attempt: 1, siteId: 'site-00', shares });
      await waitFor<void>((r) => { const i = setInterval(() => serverMessages.length > 0 && (clearInterval(i), r()), 5); }, 'secaggShareKeys');
      const up = serverMessages[0];
      expect(up.event).toBe('secaggShareKeys');
      if (up.event !== 'secaggShareKeys') return;
      expect(up.payload.shares.map((s) => [s.to, Array.from(s.nonce), Array.from(s.ciphertext)])).toEqual(shares.map((s) => [s.to, Array.from(s.nonce), Array.from(s.ciphertext)]));
    });

    it('closes the connection on a packet with more binary attachments than socket.io accepts', async () => {
      const { client, serverMessages, site } = await connectPair();
      const closed = waitFor<string>((r) => site.onClose(r), 'close after a packet with 11 attachments', 10_000);
      // Bypasses packing, as a peer with another client library would.
      const raw = client as unknown as { emitWire(event: string, payload: unknown): void };
      raw.emitWire('secaggShareKeys', { runId: 'r', round: 1, attempt: 1, siteId: 'a', shares: Array.from({ length: 11 }, () => new Uint8Array(4)) });
      await closed;
      expect(serverMessages).toHaveLength(0);
    });

    it('closes the connection instead of delivering a message over the size limit', async () => {
      const { client, serverMessages, site } = await connectPair();
      const closed = waitFor<string>((r) => site.onClose(r), 'close after oversized message', 10_000);
      const big = new Uint8Array(t!.maxMessageBytes + 1024);
      client.sendUnchecked('fitResult', { runId: 'r', round: 1, siteId: 'a', weights: big, numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 });
      await closed;
      expect(serverMessages).toHaveLength(0);
    });
  });
}
