import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Server } from 'socket.io';
import type { ServerTransport, SiteLink } from '@fedtune/shared';
import { CLUSTER_EVENTS } from '../../coordinator/src/cluster/cluster-messages.ts';
import { ClusterTransport } from '../../coordinator/src/cluster/cluster-transport.ts';
import { InstructionFanout } from '../../coordinator/src/cluster/instruction-fanout.ts';
import { RecordBatcher } from '../../coordinator/src/cluster/record-batcher.ts';
import { MAX_SENDS_PER_MESSAGE, SiteSendsMessage } from '../../coordinator/src/cluster/site-sends-messages.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('RecordBatcher: a follower\'s acceptance records, several per message', () => {
  it.each([
    [1, [1, 1, 1, 1, 1]],
    [2, [2, 2, 1]],
    [5, [5]],
    [1000, [5]],
  ])('with maxPerBatch %i, five records go as batches of %j (a full batch at once, the rest on flush)', (maxPerBatch, sizes) => {
    const sent: number[][] = [];
    const b = new RecordBatcher<number>({ send: (r) => sent.push(r), maxPerBatch, delayMs: 60_000 });
    for (let i = 0; i < 5; i++) b.add(i);
    const fullBatches = Math.floor(5 / Math.min(maxPerBatch, 256));
    expect(sent.length).toBe(fullBatches);
    b.flush();
    expect(sent.map((x) => x.length)).toEqual(sizes);
    expect(sent.flat()).toEqual([0, 1, 2, 3, 4]);
    expect([b.batchesSent, b.recordsSent, b.size]).toEqual([sizes.length, 5, 0]);
  });

  it('never more than 256 records per batch, whatever maxPerBatch says; at least 1', () => {
    const sent: number[][] = [];
    const b = new RecordBatcher<number>({ send: (r) => sent.push(r), maxPerBatch: 10_000, delayMs: 60_000 });
    for (let i = 0; i < 300; i++) b.add(i);
    expect(sent.map((x) => x.length)).toEqual([256]);
    b.flush();
    expect(sent.map((x) => x.length)).toEqual([256, 44]);
    const one: number[][] = [];
    const b1 = new RecordBatcher<number>({ send: (r) => one.push(r), maxPerBatch: 0, delayMs: 60_000 });
    b1.add(7);
    expect(one).toEqual([[7]]);
  });

  it('a batch goes delayMs after its first record (default 5 ms), not before; flush() with nothing pending sends nothing', () => {
    vi.useFakeTimers();
    const sent: number[][] = [];
    const b = new RecordBatcher<number>({ send: (r) => sent.push(r) });
    b.flush();
    expect(sent).toEqual([]);
    b.add(1);
    vi.advanceTimersByTime(4);
    b.add(2);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([[1, 2]]);
    const slow = new RecordBatcher<number>({ send: (r) => sent.push(r), delayMs: 50 });
    slow.add(3);
    vi.advanceTimersByTime(49);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([[1, 2], [3]]);
    // A flush clears the timer: nothing goes twice.
    slow.add(4);
    slow.flush();
    vi.advanceTimersByTime(100);
    expect(sent).toEqual([[1, 2], [3], [4]]);
  });
});

describe('InstructionFanout: the leader\'s messages to remote sites, one message per node per turn', () => {
  function outbox(over: { maxPerMessage?: number; maxBytesPerMessage?: number } = {}) {
    const sent: SiteSendsMessage[] = [];
    let pending: (() => void) | undefined;
    let schedules = 0;
    const f = new InstructionFanout({ nodeId: 'node-1', send: (m) => sent.push(m), schedule: (fn) => ((pending = fn), schedules++), ...over });
    return { f, sent, turn: () => pending?.(), schedules: () => schedules };
  }

  it('sends to many sites of two nodes in one turn become one message per node, each site\'s messages in order, schema-valid', () => {
    const o = outbox();
    for (let i = 0; i < 30; i++) o.f.send(i % 3 === 0 ? 'node-3' : 'node-2', `s${i}`, 'fit', { round: 1, i });
    o.f.send('node-2', 's1', 'evaluate', { round: 1 });
    expect(o.sent).toEqual([]);
    expect(o.f.pending).toBe(31);
    expect(o.schedules()).toBe(1);
    o.turn();
    // In the order the nodes were first sent to (s0 is on node-3).
    expect(o.sent.map((m) => [m.node, m.to, m.sends.length])).toEqual([
      ['node-1', 'node-3', 10],
      ['node-1', 'node-2', 21],
    ]);
    const s1 = o.sent[1].sends.filter((x) => x.socket === 's1').map((x) => x.event);
    expect(s1).toEqual(['fit', 'evaluate']);
    for (const m of o.sent) expect(SiteSendsMessage.safeParse(m).success).toBe(true);
    expect([o.f.messagesSent, o.f.sendsSent, o.f.pending]).toEqual([2, 31, 0]);
    // The next send schedules a new turn.
    o.f.send('node-2', 's0', 'fit', {});
    expect(o.schedules()).toBe(2);
  });

  it.each([
    [undefined, 600, [256, 256, 88]],
    [10, 25, [10, 10, 5]],
    [1, 3, [1, 1, 1]],
    [0, 2, [1, 1]],
    [10_000, 300, [256, 44]],
  ])('maxPerMessage %s: %i sends to one node go as messages of %j', (maxPerMessage, n, sizes) => {
    const o = outbox(maxPerMessage === undefined ? {} : { maxPerMessage });
    for (let i = 0; i < n; i++) o.f.send('node-2', `s${i}`, 'fit', {});
    o.turn();
    expect(o.sent.map((m) => m.sends.length)).toEqual(sizes);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_SENDS_PER_MESSAGE);
  });

  it('undefined fields are dropped (a server-side emit is msgpack, where they would arrive as null and fail the site\'s schema); binary, nulls and arrays kept', () => {
    const o = outbox();
    const bytes = new Uint8Array([1, 2, 3]);
    o.f.send('node-2', 's0', 'complete', { runId: 'r', aborted: undefined, final: { accuracy: 0.5, loss: undefined }, list: [1, null], weights: bytes, none: null });
    o.turn();
    const payload = o.sent[0].sends[0].payload as Record<string, unknown>;
    expect(payload).toEqual({ runId: 'r', final: { accuracy: 0.5 }, list: [1, null], weights: bytes, none: null });
    expect('aborted' in payload).toBe(false);
    expect(payload.weights).toBe(bytes);
  });

  it('one payload object sent to many sites is cleaned once (the same object in every send); a payload with nothing undefined is not copied', () => {
    const o = outbox();
    const shared = { topology: { layers: [{ units: 4, name: undefined }] } };
    const clean = { round: 1, list: [{ a: 1 }] };
    for (let i = 0; i < 3; i++) o.f.send('node-2', `s${i}`, 'model', shared);
    o.f.send('node-2', 's9', 'fit', clean);
    o.turn();
    const payloads = o.sent[0].sends.map((x) => x.payload);
    expect(payloads[0]).toEqual({ topology: { layers: [{ units: 4 }] } });
    expect(payloads[1]).toBe(payloads[0]);
    expect(payloads[2]).toBe(payloads[0]);
    expect(payloads[3]).toBe(clean);
  });

  it('a message ends once its binary fields reach maxBytesPerMessage (model bytes never pile up in one Redis entry)', () => {
    const o = outbox({ maxBytesPerMessage: 1000 });
    for (let i = 0; i < 5; i++) o.f.send('node-2', `s${i}`, 'fit', { weights: new Uint8Array(400), round: 1 });
    o.f.send('node-2', 's5', 'fit', { packed: { $blob: new Uint8Array(999) } });
    o.f.send('node-2', 's6', 'fit', { round: 2 });
    o.turn();
    // 400+400 < 1000, +400 = 1200 → a message of 3; then 400+400+999 → 3; then the last one.
    expect(o.sent.map((m) => m.sends.length)).toEqual([3, 3, 1]);
    const d = outbox();
    for (let i = 0; i < 5; i++) d.f.send('node-2', `s${i}`, 'fit', { weights: new Uint8Array(2 * 1024 * 1024) });
    d.turn();
    // Default 8 MiB: four 2 MiB models, then one.
    expect(d.sent.map((m) => m.sends.length)).toEqual([4, 1]);
  });
});

/** A ClusterTransport over a stand-in socket.io server: what it emits to the other nodes, and events from them. */
function transportOf(nodeId: string) {
  const io = new EventEmitter() as EventEmitter & { serverSideEmit: (e: string, p: unknown) => void; to: (id: string) => { emit: (e: string, p: unknown) => void }; in: (id: string) => { disconnectSockets: () => void } };
  const emitted: Array<{ event: string; payload: unknown }> = [];
  const direct: Array<{ to: string; event: string }> = [];
  io.serverSideEmit = (event, payload) => emitted.push({ event, payload });
  io.to = (to) => ({ emit: (event) => direct.push({ to, event }) });
  io.in = () => ({ disconnectSockets: () => {} });
  let onLocal!: (link: SiteLink) => void;
  const inner: ServerTransport = { onConnection: (h) => (onLocal = h), close: async () => {} } as ServerTransport;
  const warnings: string[] = [];
  const t = new ClusterTransport(inner, io as unknown as Server, { nodeId, maxQueuedMessages: 16, maxRefusals: 20, refusalWindowMs: 10_000, maxRemoteSites: 100, nodeHeartbeatMs: 60_000, nodeTimeoutMs: 600_000, onWarning: (w) => warnings.push(w) });
  /** A local site connection on this node: what it is sent. */
  const local = (id: string) => {
    const got: Array<{ event: string; payload: unknown }> = [];
    const closeHandlers: Array<(r: string) => void> = [];
    const l = { id, closed: false, onMessage: () => {}, onInvalid: () => {}, onClose: (h: (r: string) => void) => closeHandlers.push(h), sendUnchecked: (event: string, payload: unknown) => got.push({ event, payload }), send: () => {}, close: () => closeHandlers.forEach((h) => h('closed')) } as unknown as SiteLink;
    onLocal(l);
    return { link: l, got, drop: () => closeHandlers.forEach((h) => h('closed')) };
  };
  return { t, io, emitted, direct, local, warnings };
}

describe('ClusterTransport: batched site messages across nodes', () => {
  it('leader: what the engine sends a follower\'s sites in one turn crosses Redis as one fedtune:site-sends, counted in stats', async () => {
    const n = transportOf('node-1');
    n.t.becomeLeader(1);
    const links: SiteLink[] = [];
    n.t.onConnection((l) => links.push(l));
    for (let i = 0; i < 12; i++) n.io.emit(CLUSTER_EVENTS.relay, { node: i < 8 ? 'node-2' : 'node-3', socket: `sock-${i}`, event: 'hello', payload: {} });
    expect(links).toHaveLength(12);
    const before = n.emitted.length;
    for (const l of links) l.sendUnchecked('fit', { round: 1, modelRef: '/api/v1/models/0/weights' });
    expect(n.emitted.length).toBe(before);
    await new Promise((r) => setImmediate(r));
    const batches = n.emitted.slice(before);
    expect(batches.map((b) => b.event)).toEqual([CLUSTER_EVENTS.siteSends, CLUSTER_EVENTS.siteSends]);
    expect(batches.map((b) => [(b.payload as SiteSendsMessage).to, (b.payload as SiteSendsMessage).sends.length])).toEqual([['node-2', 8], ['node-3', 4]]);
    expect(n.t.stats.serverSideEmits.get(CLUSTER_EVENTS.siteSends)).toBe(2);
    expect([n.t.fanout.messagesSent, n.t.fanout.sendsSent]).toEqual([2, 12]);
    // Nothing went to the sites one by one through the adapter.
    expect(n.direct).toEqual([]);
    await n.t.close();
  });

  it('follower: each send of a batch for this node reaches its own socket; unknown sockets, other nodes\' batches and a leader\'s own are ignored (counted)', async () => {
    const n = transportOf('node-2');
    const a = n.local('sock-a');
    const b = n.local('sock-b');
    const gone = n.local('sock-gone');
    gone.drop();
    n.io.emit(CLUSTER_EVENTS.siteSends, { node: 'node-1', to: 'node-2', sends: [
      { socket: 'sock-a', event: 'fit', payload: { round: 1 } },
      { socket: 'sock-x', event: 'fit', payload: { round: 1 } },
      { socket: 'sock-b', event: 'fit', payload: { round: 1 } },
      { socket: 'sock-gone', event: 'fit', payload: { round: 1 } },
      { socket: 'sock-a', event: 'evaluate', payload: { round: 1 } },
    ] });
    expect(a.got.map((m) => m.event)).toEqual(['fit', 'evaluate']);
    expect(b.got).toEqual([{ event: 'fit', payload: { round: 1 } }]);
    expect(gone.got).toEqual([]);
    expect([n.t.stats.siteSendsDelivered, n.t.stats.siteSendsUnknownSocket]).toEqual([3, 2]);
    n.io.emit(CLUSTER_EVENTS.siteSends, { node: 'node-1', to: 'node-3', sends: [{ socket: 'sock-a', event: 'fit', payload: {} }] });
    n.io.emit(CLUSTER_EVENTS.siteSends, { node: 'node-2', to: 'node-2', sends: [{ socket: 'sock-a', event: 'fit', payload: {} }] });
    expect(a.got).toHaveLength(2);
    n.t.becomeLeader(2);
    n.io.emit(CLUSTER_EVENTS.siteSends, { node: 'node-1', to: 'node-2', sends: [{ socket: 'sock-a', event: 'fit', payload: {} }] });
    expect(a.got).toHaveLength(2);
    await n.t.close();
  });

  const MALFORMED: Array<[string, unknown]> = [
    ['not an object', 'x'],
    ['no sends', { node: 'node-1', to: 'node-2' }],
    ['an empty list', { node: 'node-1', to: 'node-2', sends: [] }],
    ['257 sends', { node: 'node-1', to: 'node-2', sends: Array.from({ length: 257 }, () => ({ socket: 'sock-a', event: 'fit', payload: {} })) }],
    ['a socket id of 65 characters', { node: 'node-1', to: 'node-2', sends: [{ socket: 's'.repeat(65), event: 'fit', payload: {} }] }],
    ['an event name of 65 characters', { node: 'node-1', to: 'node-2', sends: [{ socket: 'sock-a', event: 'e'.repeat(65), payload: {} }] }],
    ['a send with an extra field', { node: 'node-1', to: 'node-2', sends: [{ socket: 'sock-a', event: 'fit', payload: {}, x: 1 }] }],
    ['a bad node id', { node: 'node 1', to: 'node-2', sends: [{ socket: 'sock-a', event: 'fit', payload: {} }] }],
  ];
  it.each(MALFORMED)('a fedtune:site-sends that is %s is refused whole and counted: nothing reaches a site', async (_what, raw) => {
    const n = transportOf('node-2');
    const a = n.local('sock-a');
    n.io.emit(CLUSTER_EVENTS.siteSends, raw);
    expect(a.got).toEqual([]);
    expect(n.t.refusedClusterMessages).toBe(1);
    await n.t.close();
  });
});
