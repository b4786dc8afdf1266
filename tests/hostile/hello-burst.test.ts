import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SiteTokenStore } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir, tryJoin } from '../access/helpers.ts';
import { attacker, honestSite } from './helpers.ts';

// Finding 8 of issue 11: a burst of hellos from the sites' address made the per-address limit refuse the
// honest sites. The limits now count failed attempts only and never refuse a hello that would join.
it('a burst of bad hellos from the same address does not starve a site with a valid token', async () => {
  const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
  const tokens = { a: store.add('site-a'), b: store.add('site-b') };
  const coordinator = await startTinyCoordinator({ runId: 'burst-tokens', minSites: 2, access: { store, hellosPerMinute: 5 } });
  try {
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { site, answer } = await tryJoin(coordinator.url!, i % 2 ? 'site-a' : `fake-${i}`, `guess-${i}`);
      answers.push((answer.payload as { code: string }).code);
      await site.closed;
    }
    // The limit still answers the burst.
    expect(answers.slice(0, 5)).toEqual(Array(5).fill('unauthorized'));
    expect(answers.slice(5)).toEqual(Array(15).fill('rate_limited'));
    // The honest sites, from the same address, with their tokens: joined at once, and the run completes.
    const a = await honestSite(coordinator.url!, 'site-a', { token: tokens.a });
    const b = await honestSite(coordinator.url!, 'site-b', { token: tokens.b, seed: 4 });
    expect((await a.run).completed).toBe(true);
    expect((await b.run).completed).toBe(true);
    expect(a.events.filter((e) => e.type === 'rejected')).toEqual([]);
    expect((await coordinator.done).status).toBe('complete');
  } finally {
    await coordinator.close();
    store.close();
  }
});

it('without tokens, a burst of hellos from the same address does not lock out an honest site', async () => {
  const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
  // The run waits for more sites than will come: only joining is under test.
  const coordinator = await startTinyCoordinator({ runId: 'burst-open', minSites: 100, access: { store, hellosPerMinute: 5 } });
  try {
    // 30 joins under made-up names, and 30 attempts on a name in use.
    const holder = await attacker(coordinator.url!);
    holder.hello('held');
    await holder.next('welcome');
    for (let i = 0; i < 30; i++) {
      const { site, answer } = await tryJoin(coordinator.url!, `sybil-${i}`);
      expect(answer.event).toBe('welcome');
      site.link.close();
      const taken = await tryJoin(coordinator.url!, 'held');
      expect(taken.answer.payload).toMatchObject({ code: 'site_in_use' });
    }
    const honest = await tryJoin(coordinator.url!, 'site-a');
    expect(honest.answer.event).toBe('welcome');
    honest.site.link.close();
    holder.socket.close();
  } finally {
    await coordinator.close();
    store.close();
  }
});
