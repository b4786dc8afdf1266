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
  const coordinator = await startTinyCoordinator({ runId: 'drops', minSites: 1, rounds: 6 });
  let finished = false;
  void coordinator.done.then(() => (finished = true));
  try {
    const site = await honestSite(coordinator.url!, 'site-a', { reconnect: { retries: 1, baseDelayMs: 50 } });
    // Three separate network incidents: the coordinator side drops the connection in three different rounds. A
    // quick round can end before the poll sees it (CI caught a wait for round 1 exactly): any later round will do.
    let last = 0;
    for (let incident = 1; incident <= 3; incident++) {
      await until(() => (coordinator.engine.currentRound ?? 0) > last && coordinator.engine.sites.has('site-a'), `site-a joined in a round after ${last}`, 30_000);
      last = coordinator.engine.currentRound!;
      coordinator.engine.sites.get('site-a')!.link.close();
      await until(() => coordinator.engine.currentRound !== last || finished, `round ${last} over`, 30_000);
    }
    const outcome = await site.run;
    expect(outcome.completed).toBe(true);
    expect(site.events.filter((e) => e.type === 'reconnecting').length).toBeGreaterThanOrEqual(3);
    expect(site.events.filter((e) => e.type === 'welcome').length).toBeGreaterThanOrEqual(4);
    expect((await coordinator.done).status).toBe('complete');
  } finally {
    await coordinator.close();
  }
});
