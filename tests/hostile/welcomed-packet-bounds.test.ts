import { describe, expect, it } from 'vitest';
import { Decoder } from 'socket.io-parser';
import { boundedSocketIoParser } from '../../coordinator/src/transport/bounded-socketio-parser.ts';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, until } from './helpers.ts';

// A welcomed peer's packets are bounded before socket.io parses them (bounded-socketio-parser.ts): the JSON of
// one event (connectionLimits.maxTextMessageBytes), the JSON bytes per second of a connection (textBytesPerSecond,
// bursts of textBytesBurst), and one binary attachment per packet. Found by a hostile-peer audit (2026-12-05):
// schema-valid heartbeats with a 12 MB unknown key held the event loop 1–3 s at a time and the process grew by
// 0.8–1.3 GB; 4 connections each sending 9 of 10 announced 15 MB attachments held 135 MB apiece, for good.
const heartbeat = { siteId: 'site-z', status: 'idle' };

async function welcomed(limits: Record<string, number> = {}) {
  const coordinator = await startTinyCoordinator({ runId: 'packet-bounds', minSites: 2, connectionLimits: { helloTimeoutMs: 60_000, ...limits } });
  const peer = await attacker(coordinator.url!);
  peer.hello('site-z');
  await peer.next('welcome');
  await until(() => coordinator.engine.sites.has('site-z'), 'site-z joined');
  return { coordinator, peer };
}

describe('a welcomed peer\'s packets are bounded before they are parsed', () => {
  it('a valid heartbeat with a 3 MB unknown key closes the connection; the coordinator answers health at once and honest sites complete the run', async () => {
    const { coordinator, peer } = await welcomed();
    try {
      peer.socket.emit('heartbeat', { ...heartbeat, junk: 'x'.repeat(3 * 1024 * 1024) });
      expect(await peer.closed).toBe('transport close');
      await until(() => !coordinator.engine.sites.has('site-z'), 'site-z gone');
      const sites = await Promise.all(['site-a', 'site-b'].map((id, k) => honestSite(coordinator.url!, id, { seed: k + 3 })));
      expect((await coordinator.done).status).toBe('complete');
      for (const s of sites) expect((await s.run).completed).toBe(true);
    } finally {
      await coordinator.close();
    }
  });

  it('the same heartbeat under a larger maxTextMessageBytes is taken (the bound is the option, not a constant)', async () => {
    const { coordinator, peer } = await welcomed({ maxTextMessageBytes: 8 * 1024 * 1024, textBytesBurst: 8 * 1024 * 1024 });
    try {
      peer.socket.emit('heartbeat', { ...heartbeat, junk: 'x'.repeat(3 * 1024 * 1024) });
      peer.socket.emit('heartbeat', heartbeat);
      await new Promise((r) => setTimeout(r, 500));
      expect(peer.socket.connected).toBe(true);
    } finally {
      peer.socket.close();
      await coordinator.close();
    }
  });

  it('small packets past the connection\'s text budget close it; the same packets spread out are taken', async () => {
    const fast = await welcomed({ textBytesPerSecond: 64 * 1024, textBytesBurst: 256 * 1024 });
    try {
      // 40 × 16 KB at once: 640 KB against a burst of 256 KB.
      for (let i = 0; i < 40; i++) fast.peer.socket.emit('heartbeat', { ...heartbeat, junk: 'y'.repeat(16 * 1024) });
      expect(await fast.peer.closed).toBe('transport close');
    } finally {
      await fast.coordinator.close();
    }
    const slow = await welcomed({ textBytesPerSecond: 512 * 1024, textBytesBurst: 256 * 1024 });
    try {
      for (let b = 0; b < 4; b++) {
        for (let i = 0; i < 10; i++) slow.peer.socket.emit('heartbeat', { ...heartbeat, junk: 'y'.repeat(16 * 1024) });
        await new Promise((r) => setTimeout(r, 400));
      }
      expect(slow.peer.socket.connected).toBe(true);
    } finally {
      slow.peer.socket.close();
      await slow.coordinator.close();
    }
  });

  it('a packet announcing two attachments closes the connection before any is held', async () => {
    const { coordinator, peer } = await welcomed();
    try {
      // socket.io-client sends each binary field as its own attachment: two fields, two attachments.
      peer.socket.emit('heartbeat', { ...heartbeat, a: new Uint8Array(1024), b: new Uint8Array(1024) });
      expect(await peer.closed).toBe('transport close');
    } finally {
      await coordinator.close();
    }
  });
});

describe('boundedSocketIoParser (the decoder alone)', () => {
  const limits = { maxTextMessageBytes: 100, textBytesPerSecond: 1000, textBytesBurst: 300 };
  const decoded = (d: Decoder) => {
    const out: unknown[] = [];
    d.on('decoded', (p: unknown) => out.push(p));
    return out;
  };
  const event = (n: number) => `2["heartbeat",${JSON.stringify('z'.repeat(Math.max(0, n - 17)))}]`;

  it('a text packet of exactly maxTextMessageBytes is decoded; one character more throws', () => {
    let t = 0;
    const { Decoder: D } = boundedSocketIoParser(limits, () => t);
    const d = new D();
    const out = decoded(d);
    d.add(event(100));
    expect(event(100)).toHaveLength(100);
    expect(out).toHaveLength(1);
    expect(() => new D().add(event(101))).toThrow('text packet of 101 characters (at most 100)');
  });

  it('the budget: a burst of textBytesBurst, refilled at textBytesPerSecond', () => {
    let t = 0;
    const { Decoder: D } = boundedSocketIoParser(limits, () => t);
    const d = new D();
    const out = decoded(d);
    for (let i = 0; i < 3; i++) d.add(event(100));
    expect(() => d.add(event(50))).toThrow('text packets past 1000 characters per second');
    t += 100; // 0.1 s: 100 characters back
    d.add(event(100));
    expect(out).toHaveLength(4);
    expect(() => d.add(event(20))).toThrow(/past 1000 characters per second/);
    t += 10_000; // refilled to the burst, not beyond it
    for (let i = 0; i < 3; i++) d.add(event(100));
    expect(() => d.add(event(20))).toThrow(/per second/);
  });

  it('one attachment per binary packet; a second is refused; binary data alone is left to socket.io\'s own check', () => {
    const { Decoder: D } = boundedSocketIoParser(limits, () => 0);
    const d = new D();
    const out = decoded(d);
    d.add('51-["fitResult",{"_placeholder":true,"num":0}]');
    d.add(new Uint8Array([1, 2, 3]));
    expect(out).toHaveLength(1);
    expect(() => new D().add('52-["fitResult",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')).toThrow('too many attachments');
    expect(() => new D().add(new Uint8Array([1]))).toThrow('got binary data when not reconstructing a packet');
  });
});
