import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { SiteTokenStore, siteAuthorizer } from '@fedtune/coordinator';
import { PROTOCOL_VERSION, type Hello, type ServerTransport, type SiteLink } from '@fedtune/shared';
import { ClusterTransport } from '../../coordinator/src/cluster/cluster-transport.ts';
import { RelayMessage } from '../../coordinator/src/cluster/cluster-messages.ts';
import { tempDir } from '../access/helpers.ts';

/**
 * A hello relayed by a follower carries the site's network address as the follower saw it, so the leader's
 * per-address hello limits apply to sites on every node. Before, a relayed link had no address: the failed-hello
 * limit (30 a minute per address) and the open-join limit never applied through a follower, and one address
 * wrote an audit entry per refused hello there (~2.2 MB a minute).
 */
function node(bus: EventEmitter, nodeId: string, verifyToken?: (siteId: string, token: string | undefined) => { ok: true } | { ok: false; reason: 'token required' | 'unknown site' | 'invalid token' | 'token revoked' }) {
  const io = new EventEmitter() as EventEmitter & Record<string, unknown>;
  // serverSideEmit reaches the other nodes (never this one): the bus carries it, each node filtering its own.
  io.serverSideEmit = (event: string, payload: unknown) => bus.emit('emit', nodeId, event, payload);
  bus.on('emit', (from: string, event: string, payload: unknown) => from !== nodeId && io.emit(event, payload));
  io.to = () => ({ emit: () => {} });
  io.in = () => ({ disconnectSockets: () => {} });
  let onLocal!: (link: SiteLink) => void;
  const inner = { onConnection: (h: (l: SiteLink) => void) => (onLocal = h), close: async () => {} } as unknown as ServerTransport;
  const t = new ClusterTransport(inner, io as unknown as Server, { nodeId, maxQueuedMessages: 16, maxRemoteSites: 100, nodeHeartbeatMs: 60_000, nodeTimeoutMs: 600_000, maxRefusals: 20, refusalWindowMs: 10_000, ...(verifyToken ? { verifyToken } : {}) });
  /** A site connected to this node, from `remoteAddress`; `say` delivers one of its (already parsed) messages. */
  const site = (id: string, remoteAddress?: string) => {
    let handler!: (m: { event: string; payload: unknown }) => void;
    const link = { id, remoteAddress, onMessage: (h: typeof handler) => (handler = h), onInvalid: () => {}, onClose: () => {}, send: () => {}, close: () => {}, closed: false } as unknown as SiteLink;
    onLocal(link);
    return { say: (event: string, payload: unknown) => handler({ event, payload }) };
  };
  return { t, site };
}

const helloOf = (siteId: string, token?: string) => ({ protocol: PROTOCOL_VERSION, siteId, ...(token ? { token } : {}), capabilities: { backend: 'cpu', runtime: 'node', numExamples: 40 } });

describe('a hello with a token relayed through a follower that checks tokens', () => {
  it('crosses without its token, with the follower\'s verdict; the leader\'s authorizer takes the verdict', async () => {
    const bus = new EventEmitter();
    const relays: Array<{ payload: Record<string, unknown>; tokenVerdict?: unknown }> = [];
    bus.on('emit', (_from: string, event: string, payload: (typeof relays)[number]) => void (event === 'fedtune:relay' && relays.push(payload)));
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const token = store.add('site-a');
    const leader = node(bus, 'L');
    const follower = node(bus, 'F', (siteId, presented) => store.verify(siteId, presented));
    const authorize = siteAuthorizer({ store, addressOf: (link) => link.remoteAddress });
    const verdicts: unknown[] = [];
    leader.t.onConnection((link) => link.onMessage((m) => verdicts.push(authorize(m.payload as Hello, link))));
    leader.t.becomeLeader(1);
    follower.site('s1', '192.0.2.1').say('hello', helloOf('site-a', token));
    follower.site('s2', '192.0.2.1').say('hello', helloOf('site-a', 'wrong'));
    follower.site('s3', '192.0.2.1').say('hello', helloOf('nobody', 'wrong'));
    follower.site('s4', '192.0.2.1').say('hello', helloOf('site-a'));
    expect(relays.map((r) => r.tokenVerdict)).toEqual([{ ok: true }, { ok: false, reason: 'invalid token' }, { ok: false, reason: 'unknown site' }, { ok: false, reason: 'token required' }]);
    for (const r of relays) {
      expect(r.payload).not.toHaveProperty('token');
      expect(r.payload.siteId).toBeDefined();
    }
    expect(JSON.stringify(relays)).not.toContain(token);
    expect(verdicts[0]).toEqual({ ok: true, authenticated: true });
    expect(verdicts.slice(1)).toEqual([
      { ok: false, code: 'unauthorized', reason: expect.stringMatching(/^site site-a refused: unknown site or invalid token/) },
      { ok: false, code: 'unauthorized', reason: expect.stringMatching(/^site nobody refused: unknown site or invalid token/) },
      { ok: false, code: 'unauthorized', reason: 'site site-a refused: token required (this coordinator requires site tokens: pass --token)' },
    ]);
    store.close();
    await leader.t.close();
    await follower.t.close();
  });

  it('a follower without a registry relays the hello as it came (the leader checks the token)', async () => {
    const bus = new EventEmitter();
    const relays: Array<{ payload: Record<string, unknown>; tokenVerdict?: unknown }> = [];
    bus.on('emit', (_from: string, event: string, payload: (typeof relays)[number]) => void (event === 'fedtune:relay' && relays.push(payload)));
    const follower = node(bus, 'F');
    follower.site('s1').say('hello', helloOf('site-a', 'tok'));
    expect(relays[0].payload.token).toBe('tok');
    expect(relays[0]).not.toHaveProperty('tokenVerdict');
    await follower.t.close();
  });

  it('the relay schema takes only the registry\'s verdicts', () => {
    const base = { node: 'F', socket: 's', event: 'hello', payload: {} };
    expect(RelayMessage.safeParse({ ...base, tokenVerdict: { ok: true } }).success).toBe(true);
    expect(RelayMessage.safeParse({ ...base, tokenVerdict: { ok: false, reason: 'token revoked' } }).success).toBe(true);
    expect(RelayMessage.safeParse({ ...base, tokenVerdict: { ok: false, reason: 'something else' } }).success).toBe(false);
    expect(RelayMessage.safeParse({ ...base, tokenVerdict: { ok: true, extra: 1 } }).success).toBe(false);
  });
});

describe('a hello relayed through a follower', () => {
  it('carries the address the follower saw; the leader\'s link for the site has it, and later messages carry none', async () => {
    const bus = new EventEmitter();
    const relays: unknown[] = [];
    bus.on('emit', (_from: string, event: string, payload: unknown) => event === 'fedtune:relay' && relays.push(payload));
    const leader = node(bus, 'L');
    const follower = node(bus, 'F');
    const links: SiteLink[] = [];
    leader.t.onConnection((link) => links.push(link));
    leader.t.becomeLeader(1);
    const s = follower.site('sock-1', '203.0.113.7');
    s.say('hello', helloOf('site-a'));
    s.say('heartbeat', { runId: 'r' });
    expect(relays).toHaveLength(2);
    expect(relays[0]).toMatchObject({ node: 'F', socket: 'sock-1', event: 'hello', address: '203.0.113.7' });
    expect(relays[1]).not.toHaveProperty('address');
    expect(links).toHaveLength(1);
    expect(links[0].remoteAddress).toBe('203.0.113.7');
    // A site without a known address relays none.
    follower.site('sock-2').say('hello', helloOf('site-b'));
    expect(relays[2]).not.toHaveProperty('address');
    expect(links[1].remoteAddress).toBeUndefined();
    await leader.t.close();
    await follower.t.close();
  });

  it('an address is clipped to 64 characters on the way, and a longer one is refused by the relay schema', () => {
    expect(RelayMessage.safeParse({ node: 'F', socket: 's', event: 'hello', payload: {}, address: 'a'.repeat(64) }).success).toBe(true);
    expect(RelayMessage.safeParse({ node: 'F', socket: 's', event: 'hello', payload: {}, address: 'a'.repeat(65) }).success).toBe(false);
    const bus = new EventEmitter();
    const relays: Array<{ address?: string }> = [];
    bus.on('emit', (_f: string, event: string, payload: { address?: string }) => event === 'fedtune:relay' && relays.push(payload));
    const follower = node(bus, 'F');
    follower.site('sock-1', 'x'.repeat(200)).say('hello', helloOf('site-a'));
    expect(relays[0].address).toBe('x'.repeat(64));
    void follower.t.close();
  });

  it('so the leader\'s failed-hello limit counts it per address: the 31st bad hello from one address through a follower is rate_limited', async () => {
    const bus = new EventEmitter();
    const leader = node(bus, 'L');
    const follower = node(bus, 'F');
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    store.add('registered');
    const authorize = siteAuthorizer({ store, addressOf: (link) => link.remoteAddress });
    const codes: string[] = [];
    leader.t.onConnection((link) => {
      link.onMessage((m) => {
        const verdict = authorize(m.payload as Hello, link);
        codes.push(typeof verdict === 'object' && !verdict.ok ? (verdict.code ?? 'refused') : 'ok');
      });
    });
    leader.t.becomeLeader(1);
    for (let i = 0; i < 31; i++) follower.site(`sock-${i}`, '198.51.100.9').say('hello', helloOf(`fresh-${i}`));
    expect(codes).toEqual([...Array(30).fill('unauthorized'), 'rate_limited']);
    store.close();
    await leader.t.close();
    await follower.t.close();
  });
});
