import { expect, it } from 'vitest';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, until } from './helpers.ts';

// The other side of "a live site keeps its name": a site whose old connection is still registered after
// a network blip (half-open: nothing arrives from it any more) is refused site_in_use, retries with
// backoff, and gets its name back once the old connection has been silent for the heartbeat timeout.
it('a site reconnecting while its silent old connection is still registered gets back in', async () => {
  const coordinator = await startTinyCoordinator({ runId: 'blip', minSites: 1, connectionLimits: { heartbeatTimeoutMs: 1_500 } });
  try {
    // The "old connection": joined as site-a, then silent (no heartbeats), but never closed.
    const old = await attacker(coordinator.url!);
    old.hello('site-a');
    await old.next('welcome');
    const fit = await old.next('fit', 30_000);
    expect(fit.round).toBe(1);

    const site = await honestSite(coordinator.url!, 'site-a', { reconnect: { retries: 8, baseDelayMs: 100, maxDelayMs: 800 } });
    const outcome = await site.run;
    expect(outcome.completed).toBe(true);
    expect(site.events).toContainEqual(expect.objectContaining({ type: 'rejected', code: 'site_in_use' }));
    expect(site.events.filter((e) => e.type === 'welcome')).toHaveLength(1);
    expect(await old.closed).toBe('io server disconnect');
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    expect(report.rounds[0].accepted.map((u) => u.siteId)).toEqual(['site-a']);
  } finally {
    await coordinator.close();
  }
});

it('a site that is dropped more often than its retry budget, but welcomed in between, keeps coming back', async () => {
  const coordinator = await startTinyCoordinator({ runId: 'drops', minSites: 1, rounds: 4 });
  try {
    const site = await honestSite(coordinator.url!, 'site-a', { reconnect: { retries: 1, baseDelayMs: 50 } });
    // Three separate network incidents (the coordinator side drops the connection at rounds 1-3).
    for (let round = 1; round <= 3; round++) {
      await until(() => coordinator.engine.currentRound === round && coordinator.engine.sites.has('site-a'), `site-a in round ${round}`, 30_000);
      coordinator.engine.sites.get('site-a')!.link.close();
      await until(() => coordinator.engine.currentRound !== round, `round ${round} over`, 30_000);
    }
    const outcome = await site.run;
    expect(outcome.completed).toBe(true);
    expect(site.events.filter((e) => e.type === 'reconnecting').length).toBeGreaterThanOrEqual(3);
    expect((await coordinator.done).status).toBe('complete');
  } finally {
    await coordinator.close();
  }
});
