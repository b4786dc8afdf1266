import { describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '@fedtune/coordinator';
import type { SiteEvent } from '@fedtune/shared';
import { startTestFederation } from './helpers/federation.ts';

describe('sites that come and go (real socket.io)', () => {
  it('30% of sites drop in the middle of a round: it completes with the rest, and they rejoin later', async () => {
    const dropped = ['site-2', 'site-5', 'site-9'];
    const events: Record<string, SiteEvent['type'][]> = {};
    let coordinator: RunningCoordinator | undefined;
    const fed = await startTestFederation({
      sites: 10,
      rounds: 4,
      transport: 'socket',
      maxSiteExamples: 80,
      reconnect: true,
      // minSites 10: before round 3 the coordinator waits (up to rejoinGraceMs) for the dropped sites to rejoin.
      config: { quorum: 0.5, federatedEvaluation: 'never', rejoinGraceMs: 30_000 },
      onSiteEvent: (id, e) => (events[id] ??= []).push(e.type),

      onEvent: (e) => {
        if (e.type === 'round-start' && e.round === 2) {
          // Cut these sites' connections from the coordinator's side right after the round starts.
          setImmediate(() => {
            for (const id of dropped) coordinator!.engine.sites.get(id)?.link.close();
          });
        }
      },
    });
    coordinator = fed.coordinator;
    const report = await coordinator.done;
    const outcomes = await Promise.all(fed.siteRuns);
    await coordinator.close();

    expect(report.status).toBe('complete');
    const r2 = report.rounds[1];
    expect(r2.failed.map((f) => f.siteId).sort()).toEqual(dropped);
    expect(r2.accepted).toHaveLength(7);
    // They reconnected and took part in a later round.
    expect(report.rounds[2].accepted).toHaveLength(10);
    expect(report.rounds[3].accepted).toHaveLength(10);
    for (const id of dropped) expect(events[id]).toContain('reconnecting');
    expect(outcomes.every((o) => o.completed)).toBe(true);
  });
});
