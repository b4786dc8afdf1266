import { EventEmitter } from 'node:events';
import type { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type Hello, type ServerTransport, type SiteLink } from '@fedtune/shared';
import { ClusterTransport } from '../../coordinator/src/cluster/cluster-transport.ts';
import { CLUSTER_EVENTS } from '../../coordinator/src/cluster/cluster-messages.ts';

/** The leader's ClusterTransport over a stand-in socket.io server, with followers A and B alive: its site placement. */
function leader(leaderWeight = 1) {
  const io = new EventEmitter() as EventEmitter & { serverSideEmit: (e: string, p: unknown) => void; to: () => { emit: () => void }; in: () => { disconnectSockets: () => void } };
  io.serverSideEmit = () => {};
  io.to = () => ({ emit: () => {} });
  io.in = () => ({ disconnectSockets: () => {} });
  const inner = { onConnection: () => {}, close: async () => {} } as unknown as ServerTransport;
  let now = 1_000;
  const t = new ClusterTransport(inner, io as unknown as Server, { nodeId: 'L', maxQueuedMessages: 16, maxRefusals: 20, refusalWindowMs: 10_000, maxRemoteSites: 100, nodeHeartbeatMs: 60_000, nodeTimeoutMs: 10_000, leaderWeight, now: () => now });
  t.becomeLeader(1);
  for (const node of ['A', 'B']) io.emit(CLUSTER_EVENTS.nodeAlive, { node, sites: 0 });
  const links: SiteLink[] = [];
  t.onConnection((l) => links.push(l));
  /** A site whose hello the follower `node` relayed (the leader's RemoteSiteLink for it). */
  const remote = (node: string, socket: string) => {
    io.emit(CLUSTER_EVENTS.relay, { node, socket, event: 'hello', payload: {} });
    return links.at(-1)!;
  };
  /** A site connected to the leader itself. */
  const local = () => {
    const handlers: Array<(r: string) => void> = [];
    return { onClose: (h: (r: string) => void) => handlers.push(h), close: () => handlers.forEach((h) => h('closed')) } as unknown as SiteLink;
  };
  const hello = (siteId: string, alternatives?: number): Hello => ({ protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 1, ...(alternatives !== undefined ? { alternatives } : {}) } });
  const alive = () => {
    for (const node of ['A', 'B']) io.emit(CLUSTER_EVENTS.nodeAlive, { node, sites: 0 });
  };
  return { t, remote, local, hello, alive, advance: (ms: number) => (now += ms) };
}

describe('ClusterTransport.placeSite (the leader places the cluster\'s sites)', () => {
  it('counts every site taken at its node until its connection closes; a hello offering no alternative is taken and counted', () => {
    const n = leader();
    const a1 = n.remote('A', 'a1');
    expect(n.t.placeSite(n.hello('s1', 2), a1)).toEqual({ ok: true });
    const l1 = n.local();
    expect(n.t.placeSite(n.hello('s2'), l1)).toEqual({ ok: true });
    expect(Object.fromEntries(n.t.siteCounts())).toEqual({ A: 1, L: 1 });
    // The same connection is counted once however often it is asked about.
    n.t.placeSite(n.hello('s1', 2), a1);
    expect(n.t.siteCounts().get('A')).toBe(1);
    l1.close();
    expect(Object.fromEntries(n.t.siteCounts())).toEqual({ A: 1 });
  });

  it('sends on a site arriving at a node above its share, and counts it in flight until it arrives', () => {
    const n = leader();
    expect(n.t.placeSite(n.hello('s1', 2), n.local()).ok).toBe(true);
    expect(n.t.placeSite(n.hello('s2', 2), n.local()).ok).toBe(false);
    // s2 in flight: the cluster counts 3 sites, so the leader's share is 1 and s3 is sent on too; with s2 and s3
    // in flight (4 sites) the share is 4/3 → 2, and s4 stays.
    expect(n.t.placeSite(n.hello('s3', 2), n.local()).ok).toBe(false);
    expect(n.t.placeSite(n.hello('s4', 2), n.local()).ok).toBe(true);
    // s2 arrives at A: no longer in flight.
    expect(n.t.placeSite(n.hello('s2', 1), n.remote('A', 'a2')).ok).toBe(true);
    expect(Object.fromEntries(n.t.siteCounts())).toEqual({ L: 2, A: 1 });
  });

  it('sites in flight are forgotten after the node timeout', () => {
    const n = leader();
    n.t.placeSite(n.hello('s1', 2), n.local());
    expect(n.t.placeSite(n.hello('s2', 2), n.local()).ok).toBe(false);
    expect(n.t.placeSite(n.hello('s3', 2), n.local()).ok).toBe(false);
    n.advance(10_001);
    n.alive();
    // With s2 and s3 still in flight s4 would stay (as above); forgotten, the leader (2 of 2 sites) sends it on.
    expect(n.t.placeSite(n.hello('s4', 2), n.local()).ok).toBe(false);
  });

  it('hellos sent on under made-up names skew placement only for the node timeout, and at most 10,000 are remembered', () => {
    const n = leader();
    for (let i = 0; i < 3; i++) n.t.placeSite(n.hello(`a${i}`, 1), n.remote('A', `a${i}`));
    for (let i = 0; i < 3; i++) n.t.placeSite(n.hello(`b${i}`, 1), n.remote('B', `b${i}`));
    n.t.placeSite(n.hello('l0', 2), n.local());
    let refused = 0;
    for (let i = 0; i < 12_000; i++) if (!n.t.placeSite(n.hello(`fake-${i}`, 2), n.local()).ok) refused++;
    // The leader took about its third of the total the made-up names made (at most 10,000 counted as in flight).
    const heldDuringFlood = n.t.siteCounts().get('L')!;
    expect(heldDuringFlood).toBeGreaterThan(6);
    expect(heldDuringFlood).toBeLessThanOrEqual(4_100);
    expect(refused).toBeGreaterThan(0);
    // After the node timeout they are forgotten: the leader, above its share, sends the next site on.
    n.advance(10_001);
    n.alive();
    expect(n.t.placeSite(n.hello('next', 2), n.local()).ok).toBe(false);
  });

  it('a follower never sends a site on', () => {
    const n = leader();
    n.t.becomeFollower();
    for (let i = 0; i < 5; i++) expect(n.t.placeSite(n.hello(`s${i}`, 2), n.local()).ok).toBe(true);
  });
});
