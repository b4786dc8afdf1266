import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { VirtualDigitsSites } from '@fedtune/client-node';
import { MemoryNetwork, SiteClient, socketIoConnector, virtualSiteName, type ClientConnector, type SiteEvent, type SiteOutcome, sharedTicker } from '@fedtune/shared';

/** A period no other test uses, so the ticker seen is these sites' own. */
const HEARTBEAT_MS = 60_017;
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { testSitePolicy } from '../helpers/test-site-policy.ts';

/**
 * What an idle site costs, as structure (no timing): the sites of one process share the run's terms (one
 * frozen object) and one heartbeat timer, and a coordinator holds no timer per joined site.
 */

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

async function until(what: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 6000 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!what()) throw new Error(`timed out waiting for ${label}`);
}

async function coordinatorWaitingFor(minSites: number, transport: MemoryNetwork | 'socket', rounds = 1) {
  const backend = await selectNodeBackend();
  const coordinator = await startCoordinator({
    runsDir: tempDir(),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: head(builtinDigits().holdout, 100),
    backend: backend.backend,
    transport,
    host: '127.0.0.1',
    config: { runId: 'idle-sites', rounds, minSites, fraction: 0.1, seed: 3, sitesKeepModel: false, federatedEvaluation: 'never', robustness: { when: 'never' }, roundTimeoutMs: 120_000, joinTimeoutMs: 120_000 },
  });
  return { coordinator, backend: backend.backend };
}

function virtualClients(count: number, connector: () => ClientConnector, backend: string, onEvent: (siteId: string, e: SiteEvent) => void, heartbeatMs?: number): SiteClient[] {
  const sites = new VirtualDigitsSites(builtinDigits().pool, { seed: 3, examples: 40, alpha: 0.5 });
  return Array.from({ length: count }, (_, index) => {
    const siteId = virtualSiteName(index);
    return new SiteClient({ policy: testSitePolicy(), siteId, connector: connector(), data: sites.data(index), backend, runtime: 'node', ...(heartbeatMs ? { heartbeatMs } : {}), onEvent: (e) => onEvent(siteId, e) });
  });
}

describe('idle sites share what is immutable and hold no timer of their own', () => {
  it('200 sites join over the memory network: one timer more in all (not 200), one terms object, and none left once they stop', async () => {
    const network = new MemoryNetwork();
    // The run waits for one site more than join: every site stays idle.
    const { coordinator, backend } = await coordinatorWaitingFor(201, network);
    const accepted = new Set<string>();
    let runs: Array<Promise<SiteOutcome>> = [];
    let baseline = 0;
    let clients: SiteClient[] = [];
    try {
      const before = timers();
      baseline = before;
      clients = virtualClients(200, () => network.connector(), backend, (siteId, e) => {
        if (e.type === 'terms') accepted.add(siteId);
      }, HEARTBEAT_MS);
      runs = clients.map((c) => c.run());
      await until(() => accepted.size === 200, '200 sites to accept the terms');
      const joined = timers();
      // One shared heartbeat ticker for 200 sites (per-site timers would add 200); the coordinator adds none per site.
      expect(joined - before).toBeLessThanOrEqual(2);
      expect(sharedTicker(HEARTBEAT_MS).size).toBe(200);
      // Every site checked the terms and holds the same frozen copy of them.
      const terms = clients[0].consent.terms!;
      expect(Object.isFrozen(terms)).toBe(true);
      expect(Object.isFrozen(terms.train)).toBe(true);
      for (const c of clients) expect(c.consent.terms).toBe(terms);
      expect(terms.runId).toBe('idle-sites');
    } finally {
      for (const c of clients) c.stop();
      await Promise.all(runs);
      await coordinator.close();
    }
    // The ticker went with the last site: no task and no timer is left of 200 sites.
    expect(sharedTicker(HEARTBEAT_MS).size).toBe(0);
    await until(() => timers() <= baseline, 'the timers of the run to end');
  }, 120_000);

  it('20 virtual sites over socket.io share one terms object and complete a round', async () => {
    const { coordinator, backend } = await coordinatorWaitingFor(20, 'socket');
    const fits: string[] = [];
    let clients: SiteClient[] = [];
    try {
      clients = virtualClients(20, () => socketIoConnector({ url: coordinator.url! }), backend, (siteId, e) => {
        if (e.type === 'fit-done') fits.push(siteId);
      });
      const outcomes = await Promise.all(clients.map((c) => c.run()));
      const report = await coordinator.done;
      expect(report.status).toBe('complete');
      expect(outcomes.filter((o) => o.completed)).toHaveLength(20);
      expect(report.rounds[0].selected).toHaveLength(2); // ceil(10% × 20)
      expect([...fits].sort()).toEqual(report.rounds[0].selected);
      const terms = clients[0].consent.terms!;
      for (const c of clients) expect(c.consent.terms).toBe(terms);
    } finally {
      await coordinator.close();
    }
  }, 120_000);
});
