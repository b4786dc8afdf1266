import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { SiteTokenStore } from '@fedtune/coordinator';
import { startTinyCoordinator, tempDir, tryJoin } from '../access/helpers.ts';

// Behind a gateway (or in a simulation) many honest sites share one address: with the default hello
// limit (30 per minute), the 31st used to be refused rate_limited.
it('40 distinct sites from 127.0.0.1 all join under the default hello limit', async () => {
  const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
  const coordinator = await startTinyCoordinator({ runId: 'gateway', minSites: 41, access: { store } });
  try {
    const joined = [];
    for (let i = 0; i < 40; i++) {
      const { site, answer } = await tryJoin(coordinator.url!, `site-${String(i).padStart(2, '0')}`);
      expect(answer).toMatchObject({ event: 'welcome' });
      joined.push(site);
    }
    // A site counts as joined once it has accepted the run's terms, which it does after its welcome.
    await vi.waitFor(() => expect(coordinator.engine.sites.size).toBe(40), { timeout: 10_000, interval: 20 });
    for (const site of joined) site.link.close();
  } finally {
    await coordinator.close();
    store.close();
  }
});

it('40 distinct sites with valid tokens from 127.0.0.1 all join under the default hello limit', async () => {
  const store = new SiteTokenStore(join(tempDir(), 'sites.db'));
  const names = Array.from({ length: 40 }, (_, i) => `site-${String(i).padStart(2, '0')}`);
  const tokens = Object.fromEntries(names.map((n) => [n, store.add(n)]));
  const coordinator = await startTinyCoordinator({ runId: 'gateway-tokens', minSites: 41, access: { store } });
  try {
    const joined = [];
    for (const name of names) {
      const { site, answer } = await tryJoin(coordinator.url!, name, tokens[name]);
      expect(answer).toMatchObject({ event: 'welcome' });
      joined.push(site);
    }
    // A site counts as joined once it has accepted the run's terms, which it does after its welcome.
    await vi.waitFor(() => expect(coordinator.engine.sites.size).toBe(40), { timeout: 10_000, interval: 20 });
    for (const site of joined) site.link.close();
  } finally {
    await coordinator.close();
    store.close();
  }
});
