import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, until } from './helpers.ts';

// A connection that keeps sending refused messages is cut, joined or not; an honest site never comes near.
it('cuts a connection that floods refused messages, before hello and after joining', async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'flood', minSites: 3, onEvent: (e) => events.push(e), connectionLimits: { maxRefusals: 10, refusalWindowMs: 60_000 } });
  try {
    const before = await attacker(coordinator.url!);
    // 40: within the frame budget before a welcome (64 frames). socket.io handles a message on a later tick, so all
    // the frames of a read are counted before any refusal: a longer flood is cut by the frame budget, without a
    // reason (tests/hostile/websocket-frame-flood.test.ts). Here the refusals are what cuts it.
    for (let i = 0; i < 40; i++) before.socket.emit('heartbeat', { siteId: 'site-a', status: 'idle' });
    expect(await before.closed).toBe('io server disconnect');
    const refusals = before.received.filter((m) => m.event === 'rejected');
    expect(refusals.length).toBeLessThanOrEqual(12);
    expect(refusals.at(-1)!.payload).toMatchObject({ code: 'rate_limited', reason: expect.stringMatching(/more than 10 messages refused .*connection closed/) });

    const joined = await attacker(coordinator.url!);
    joined.hello('site-z');
    await joined.next('welcome');
    for (let i = 0; i < 200; i++) joined.socket.emit('fitResult', { garbage: i });
    expect(await joined.closed).toBe('io server disconnect');
    await until(() => !coordinator.engine.sites.has('site-z'), 'site-z gone');
    expect(events).toContainEqual(expect.objectContaining({ type: 'site-left', siteId: 'site-z' }));
    expect(events.filter((e) => e.type === 'connection-refused')).toEqual([
      expect.objectContaining({ refusals: 11 }),
      expect.objectContaining({ siteId: 'site-z', refusals: 11 }),
    ]);

    // Honest sites run to completion under the same limits.
    const sites = await Promise.all(['site-a', 'site-b', 'site-c'].map((id, k) => honestSite(coordinator.url!, id, { seed: k + 3 })));
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    for (const s of sites) expect((await s.run).completed).toBe(true);
    expect(events.filter((e) => e.type === 'connection-refused')).toHaveLength(2);
  } finally {
    await coordinator.close();
  }
});
