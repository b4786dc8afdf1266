import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { expect, it } from 'vitest';
import { SiteConnections, SiteRegistry, socketIoServerTransport, type RefusedConnection } from '@fedtune/coordinator';
import { SecureAggShareKeys, SecureAggShares, SecureAggKeys, SecureAggUnmask, SecureAggUnmaskResponse, SecureAggInstruction, type SiteLink } from '@fedtune/shared';
import { attacker, until } from './helpers.ts';

/** A real socket.io server on port 0 whose connections go to SiteConnections, as a run's do. */
async function listen(maxRefusals = 20) {
  const http = createServer();
  const io = new Server(http, { maxHttpBufferSize: 1_000_000 });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const links: SiteLink[] = [];
  const refused: RefusedConnection[] = [];
  const registry = new SiteRegistry();
  const connections = new SiteConnections({
    registry,
    runId: 'pre-hello',
    limits: { maxRefusals, refusalWindowMs: 60_000 },
    onJoined() {},
    onLeft() {},
    onMessage() {},
    onInvalid(site, error) {
      connections.refuse(site.link, error.code, error.message);
    },
    onRefusedConnection: (info) => refused.push(info),
  });
  const transport = socketIoServerTransport(io);
  transport.onConnection((link) => {
    links.push(link);
    connections.accept(link);
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return { url, links, refused, close: () => transport.close() };
}

/** What EndpointBase counts: how many messages went through the schema parser, and how many were refused unparsed. */
type Counted = SiteLink & { parsedCount: number; refusedUnparsed: number };

// Issue 11: nothing but a hello is processed before hello — including parsing. A 200 KB secaggShareKeys
// with 100,000 invalid elements used to be parsed by zod (~0.7 s of event loop) before any hello check.
it('refuses every message before hello with a typed code, without parsing it, and counts it towards the flood cut', async () => {
  const server = await listen(5);
  try {
    const evil = await attacker(server.url);
    await until(() => server.links.length === 1, 'the connection reached the server');
    const link = server.links[0] as Counted;
    // 30,000 invalid elements (60 KB, under the pre-hello message limit of 64 KB; larger closes the connection unread).
    const shares = Array.from({ length: 30_000 }, () => 0);
    evil.socket.emit('secaggShareKeys', { runId: 'pre-hello', round: 0, attempt: 1, siteId: 'evil', shares });
    const refusal = await evil.next('rejected');
    expect(refusal).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(/send hello before anything else \(got "secaggShareKeys"\)/) });
    expect(link.parsedCount).toBe(0);
    expect(link.refusedUnparsed).toBe(1);

    // Malformed, well-formed and unknown events alike: refused unparsed, and the fifth refusal more cuts it.
    evil.socket.emit('fitResult', { weights: 'not bytes' });
    evil.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    evil.socket.emit('no-such-event', { x: 1 });
    for (let i = 0; i < 10; i++) evil.socket.emit('evaluateResult', 42);
    expect(await evil.closed).toBe('io server disconnect');
    expect(link.parsedCount).toBe(0);
    const codes = evil.received.filter((m) => m.event === 'rejected').map((m) => (m.payload as { code: string }).code);
    expect(codes.slice(0, 6)).toEqual(['unauthorized', 'unauthorized', 'unauthorized', 'unauthorized', 'unauthorized', 'unauthorized']);
    expect(codes.at(-1)).toBe('rate_limited');
    await until(() => server.refused.length === 1, 'the cut connection is reported');
    expect(server.refused[0]).toMatchObject({ refusals: 6 });
  } finally {
    await server.close();
  }
});

it('parses the hello, and everything after a hello that passed its schema', async () => {
  const server = await listen();
  try {
    const site = await attacker(server.url);
    await until(() => server.links.length === 1, 'the connection reached the server');
    const link = server.links[0] as Counted;
    // A hello that fails its schema does not open the gate.
    site.socket.emit('hello', { protocol: 1, siteId: 'bad id!' });
    expect(await site.next('rejected')).toMatchObject({ code: 'malformed_payload' });
    site.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    expect(await site.next('rejected')).toMatchObject({ code: 'unauthorized' });
    expect(link.parsedCount).toBe(1);
    site.hello('site-a');
    await site.next('welcome');
    site.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    site.socket.emit('fitResult', { weights: 'not bytes' });
    expect(await site.next('rejected')).toMatchObject({ code: 'malformed_payload' });
    expect(link.parsedCount).toBe(4);
    expect(link.refusedUnparsed).toBe(1);
    site.socket.close();
  } finally {
    await server.close();
  }
});

// The array caps bound the worst valid message a peer can make the coordinator (or a site) parse.
it('caps every secure-aggregation array at 10,000 sites', () => {
  const id = (i: number) => `s${i}`;
  const key = new Uint8Array(32);
  const tooMany = Array.from({ length: 10_001 }, (_, i) => i);
  const base = { runId: 'r', round: 0, attempt: 1 };
  expect(SecureAggKeys.safeParse({ ...base, keys: tooMany.map((i) => ({ siteId: id(i), encryptionPublicKey: key, maskingPublicKey: key })) }).success).toBe(false);
  const share = (i: number) => ({ from: 'a', to: id(i), nonce: new Uint8Array(12), ciphertext: new Uint8Array(8) });
  expect(SecureAggShareKeys.safeParse({ ...base, siteId: 'a', shares: tooMany.map(share) }).success).toBe(false);
  expect(SecureAggShareKeys.safeParse({ ...base, siteId: 'a', shares: tooMany.slice(1).map(share) }).success).toBe(true);
  expect(SecureAggShares.safeParse({ ...base, participants: [], shares: tooMany.map(share) }).success).toBe(false);
  expect(SecureAggShares.safeParse({ ...base, participants: tooMany.map(id), shares: [] }).success).toBe(false);
  expect(SecureAggUnmask.safeParse({ ...base, survivors: tooMany.map(id) }).success).toBe(false);
  const revealed = tooMany.map((i) => ({ owner: id(i), share: new Uint8Array(4) }));
  expect(SecureAggUnmaskResponse.safeParse({ ...base, siteId: 'a', selfMaskShares: revealed, maskingKeyShares: [] }).success).toBe(false);
  expect(SecureAggUnmaskResponse.safeParse({ ...base, siteId: 'a', selfMaskShares: [], maskingKeyShares: revealed }).success).toBe(false);
  const instruction = { attempt: 1, threshold: 2, vectorLength: 10, fixedPoint: { range: 1, maxTotalWeight: 1, scale: 1 }, clip: 1, weighting: 'examples', weightDenominator: 1 };
  expect(SecureAggInstruction.safeParse({ ...instruction, sites: tooMany.map(id) }).success).toBe(false);
  expect(SecureAggInstruction.safeParse({ ...instruction, sites: tooMany.slice(1).map(id) }).success).toBe(true);
});
