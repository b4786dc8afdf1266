import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SiteTokenStore } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir, tryJoin } from './helpers.ts';

/**
 * A gateway, or a 100-site simulation on one machine: every site comes from the same address. The hello
 * limit counts failed attempts only, so however low it is set, sites with valid tokens all join at once
 * (over real socket.io, concurrently); only bad attempts are answered rate_limited.
 */
it('100 sites with valid tokens from one address all join, with the hello limit at 5 per minute', async () => {
  const SITES = 100;
  const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
  const tokens = Array.from({ length: SITES }, (_, k) => store.add(`site-${k}`));
  const coordinator = await startTinyCoordinator({ runId: 'one-address', minSites: SITES + 1, access: { store, hellosPerMinute: 5 } });
  try {
    // Concurrent hellos, 25 connections at a time (the machine running the tests is small).
    const joins: Awaited<ReturnType<typeof tryJoin>>[] = [];
    for (let k = 0; k < SITES; k += 25) joins.push(...(await Promise.all(tokens.slice(k, k + 25).map((token, j) => tryJoin(coordinator.url!, `site-${k + j}`, token)))));
    expect(joins.filter((j) => j.answer.event === 'welcome')).toHaveLength(SITES);
    // Bad attempts from the same address are still limited: 5 refused as unauthorized, then rate_limited.
    const codes: string[] = [];
    for (let i = 0; i < 7; i++) {
      const bad = await tryJoin(coordinator.url!, `site-${i}`, 'guess');
      codes.push((bad.answer.payload as { code: string }).code);
      bad.site.link.close();
    }
    expect(codes).toEqual([...Array(5).fill('unauthorized'), 'rate_limited', 'rate_limited']);
    for (const j of joins) j.site.link.close();
  } finally {
    await coordinator.close();
    store.close();
  }
}, 120_000);
