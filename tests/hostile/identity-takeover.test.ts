import { join } from 'node:path';
import { expect, it } from 'vitest';
import { errorStatus, SiteTokenStore, type EngineEvent } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir } from '../access/helpers.ts';
import { attacker, honestSite, until } from './helpers.ts';

// Finding 2 of issue 11: without tokens, a hello with the name of a connected site replaced the honest
// connection, and the attacker's update was then accepted under that name.
it('without tokens, a live site keeps its name: the impostor is refused site_in_use and the honest updates count', async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'takeover', minSites: 2, rounds: 2, onEvent: (e) => events.push(e) });
  try {
    const honest = await honestSite(coordinator.url!, 'site-a');
    await until(() => coordinator.engine.sites.has('site-a'), 'site-a joined');
    const honestLink = coordinator.engine.sites.get('site-a')!.link;

    const impostor = await attacker(coordinator.url!);
    impostor.hello('site-a', undefined, 1_000_000);
    const refusal = await impostor.next('rejected');
    expect(refusal).toMatchObject({ code: 'site_in_use', reason: expect.stringMatching(/site site-a is connected and alive/) });
    expect(await impostor.closed).toBe('io server disconnect');
    expect(coordinator.engine.sites.get('site-a')!.link).toBe(honestLink);
    expect(errorStatus.site_in_use).toBe(409);

    const other = await honestSite(coordinator.url!, 'site-b', { seed: 5 });
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    expect((await honest.run).completed).toBe(true);
    expect((await other.run).completed).toBe(true);
    for (const round of report.rounds) {
      expect(round.accepted.find((u) => u.siteId === 'site-a')?.numExamples).toBe(honest.numExamples);
    }
    // site-a never left during the run (it disconnects on its own once told the run is complete).
    const completeAt = events.findIndex((e) => e.type === 'complete');
    expect(completeAt).toBeGreaterThan(0);
    expect(events.slice(0, completeAt).filter((e) => e.type === 'site-left' && e.siteId === 'site-a')).toEqual([]);
    // The honest connection was never dropped: its only close is the one after 'complete'.
    expect(honest.events.filter((e) => e.type === 'reconnecting')).toEqual([]);
    expect(honest.events.findIndex((e) => e.type === 'closed')).toBeGreaterThan(honest.events.findIndex((e) => e.type === 'complete'));
  } finally {
    await coordinator.close();
  }
});

it('with tokens, a hello with the valid token still takes the name from an older connection', async () => {
  const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
  const token = store.add('site-a');
  const coordinator = await startTinyCoordinator({ runId: 'takeover-tokens', minSites: 2, access: { store } });
  try {
    const first = await attacker(coordinator.url!);
    first.hello('site-a', token);
    await first.next('welcome');
    const second = await attacker(coordinator.url!);
    second.hello('site-a', token);
    await second.next('welcome');
    expect(await first.closed).toBe('io server disconnect');
    await until(() => coordinator.engine.sites.size === 1, 'one site-a');
    second.socket.close();
  } finally {
    await coordinator.close();
    store.close();
  }
});
