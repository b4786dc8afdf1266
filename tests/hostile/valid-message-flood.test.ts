import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, until } from './helpers.ts';

// A joined peer that floods the coordinator with valid messages (heartbeats: each one well-formed, none refused
// by its schema) is held to a message budget per connection — connectionLimits.messagesPerSecond and
// messageBurst, a token bucket — and cut once it keeps going past it; an honest site never comes near.
const heartbeat = { siteId: 'site-z', status: 'idle' };

async function flood(limits: { messagesPerSecond?: number; messageBurst?: number }, send: (emit: () => void) => Promise<void>) {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'valid-flood', minSites: 2, onEvent: (e) => events.push(e), connectionLimits: { maxRefusals: 10, refusalWindowMs: 60_000, ...limits } });
  const peer = await attacker(coordinator.url!);
  peer.hello('site-z');
  await peer.next('welcome');
  await until(() => coordinator.engine.sites.has('site-z'), 'site-z joined');
  await send(() => peer.socket.emit('heartbeat', heartbeat));
  // A message after the flood: its answer (a refusal, or none) comes after every earlier one.
  peer.socket.emit('hello', { protocol: 1, siteId: 'site-z', capabilities: { backend: 'cpu', runtime: 'node', numExamples: 1 } });
  await Promise.race([peer.next('rejected', 5_000).catch(() => undefined), peer.closed]);
  await new Promise((r) => setTimeout(r, 200));
  const budgetRefusals = peer.received.filter((m) => m.event === 'rejected' && String((m.payload as { reason?: string }).reason).includes('messages per second'));
  return { coordinator, peer, events, budgetRefusals };
}

describe('a joined peer flooding valid messages', () => {
  it('past its burst: refused with rate_limited, then cut; it leaves the run, and honest sites complete it', async () => {
    const { coordinator, peer, events, budgetRefusals } = await flood({ messagesPerSecond: 50, messageBurst: 100 }, async (emit) => {
      for (let i = 0; i < 5000; i++) emit();
    });
    try {
      expect(await peer.closed).toBe('io server disconnect');
      expect(budgetRefusals.length).toBeGreaterThanOrEqual(10);
      expect(budgetRefusals[0].payload).toMatchObject({ code: 'rate_limited', reason: 'more than 50 messages per second (bursts of 100): refused' });
      expect(peer.received.filter((m) => m.event === 'rejected').at(-1)!.payload).toMatchObject({ code: 'rate_limited', reason: expect.stringMatching(/more than 10 messages refused/) });
      await until(() => !coordinator.engine.sites.has('site-z'), 'site-z gone');
      expect(events).toContainEqual(expect.objectContaining({ type: 'connection-refused', siteId: 'site-z' }));
      const sites = await Promise.all(['site-a', 'site-b'].map((id, k) => honestSite(coordinator.url!, id, { seed: k + 3 })));
      expect((await coordinator.done).status).toBe('complete');
      for (const s of sites) expect((await s.run).completed).toBe(true);
    } finally {
      await coordinator.close();
    }
  });

  it.each([
    // messageBurst: the same 300 at once fit a burst of 1000, not one of 100.
    ['a burst within messageBurst', { messagesPerSecond: 1, messageBurst: 1000 }, 300, 0, false],
    ['the same burst past a smaller messageBurst', { messagesPerSecond: 1, messageBurst: 100 }, 300, 10, true],
    // messagesPerSecond: bursts of 80 a quarter-second apart (320 a second) fit a refill of 1000 a second, not of 10.
    ['bursts apart, refilled at messagesPerSecond', { messagesPerSecond: 1000, messageBurst: 100 }, 4, 0, false],
    ['the same bursts at a slower refill', { messagesPerSecond: 10, messageBurst: 100 }, 4, 10, true],
  ] as const)('%s', async (_n, limits, count, refusedAtLeast, cut) => {
    const { coordinator, peer, budgetRefusals } = await flood(limits, async (emit) => {
      if (count > 10) for (let i = 0; i < count; i++) emit();
      else
        for (let b = 0; b < count; b++) {
          for (let i = 0; i < 80; i++) emit();
          await new Promise((r) => setTimeout(r, 250));
        }
    });
    try {
      expect(budgetRefusals.length).toBeGreaterThanOrEqual(refusedAtLeast);
      if (refusedAtLeast === 0) expect(budgetRefusals).toHaveLength(0);
      expect(peer.socket.connected).toBe(!cut);
    } finally {
      peer.socket.close();
      await coordinator.close();
    }
  });
});
