import { describe, expect, it } from 'vitest';
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

  it('binary attachments past the connection\'s binary budget close it; honest sites then complete the run; the same attachments spread out are taken', async () => {
    // Bursts of one largest message (maxMessageBytes, at least 16 MB here), refilled at 2 MB a second.
    const fast = await welcomed({ binaryBytesPerSecond: 2 * 1024 * 1024, binaryBurstMessages: 1 });
    try {
      // 40 × 1 MB at once (each one attachment, refused by its schema after it was read): past the burst.
      for (let i = 0; i < 40; i++) fast.peer.socket.emit('heartbeat', { ...heartbeat, junk: new Uint8Array(1024 * 1024) });
      expect(await fast.peer.closed).toBe('transport close');
      await until(() => !fast.coordinator.engine.sites.has('site-z'), 'site-z gone');
      const sites = await Promise.all(['site-a', 'site-b'].map((id, k) => honestSite(fast.coordinator.url!, id, { seed: k + 3 })));
      expect((await fast.coordinator.done).status).toBe('complete');
      for (const s of sites) expect((await s.run).completed).toBe(true);
    } finally {
      await fast.coordinator.close();
    }
    const slow = await welcomed({ binaryBytesPerSecond: 16 * 1024 * 1024, binaryBurstMessages: 1 });
    try {
      // 3 × 8 MB a second against 16 MB a second: never past the budget. (The message budget allows 200 a second.)
      for (let b = 0; b < 3; b++) {
        for (let i = 0; i < 8; i++) slow.peer.socket.emit('heartbeat', { ...heartbeat, junk: new Uint8Array(1024 * 1024) });
        await new Promise((r) => setTimeout(r, 1000));
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
