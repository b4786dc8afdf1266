import { describe, expect, it } from 'vitest';
import type { ClientConnector } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

/**
 * Secure aggregation: two throwaway peers that advertise their keys on every fit and then say nothing more fail
 * the attempt (too few sites share keys for the threshold). Before (until 2026-12-07) a retry sampled them again —
 * the retry exclusions (retry-exclusions.ts) were off under secure aggregation, and a site that advertised and then
 * went silent was not even listed as failed — so the round failed its 3 attempts and the run was aborted (found by
 * an attacker on a CLI coordinator: round 2 of 6). Now such a site is failed for the attempt, named with the phase
 * it went silent in, and the retry leaves it out while minSites remain.
 */

/** A site whose secure-aggregation messages after its advertisement are never sent (it stays joined). */
function silentAfterAdvertise(connector: ClientConnector): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link) as (event: string, payload: unknown) => void;
      link.send = ((event: string, payload: unknown) => {
        if (event === 'secaggShareKeys' || event === 'secaggMasked' || event === 'secaggUnmaskResponse') return;
        send(event, payload);
      }) as typeof link.send;
      return link;
    },
  };
}

describe('secure aggregation: peers that advertise keys and go silent do not fail every attempt', () => {
  it('two of four: the first attempt fails naming them and the phase, the retry leaves them out, the run completes', async () => {
    const fed = await startTestFederation({
      sites: 4,
      rounds: 3,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { minSites: 2, federatedEvaluation: 'never', maxRoundAttempts: 3, secureAggregation: { clip: 1, phaseTimeoutMs: 2_000 } },
      wrapConnector: (siteId, connector) => (siteId === 'site-3' || siteId === 'site-4' ? silentAfterAdvertise(connector) : connector),
    });
    try {
      const report = await fed.coordinator.done;
      expect(report.status, report.aborted).toBe('complete');
      expect(report.rounds).toHaveLength(3);
      // Round 1 may start before the two peers join (minSites 2); once they are joined, a round's first attempt fails.
      const spoiled = report.rounds.filter((r) => r.failed.some((f) => f.siteId === 'site-3' || f.siteId === 'site-4'));
      expect(spoiled.length).toBeGreaterThan(0);
      for (const r of spoiled) {
        expect(r.attempts).toBe(2);
        expect(r.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2']);
        const failed = r.failed.filter((f) => f.siteId === 'site-3' || f.siteId === 'site-4');
        expect(failed.map((f) => f.siteId).sort()).toEqual(['site-3', 'site-4']);
        for (const f of failed) expect(f.reason).toBe('no secure-aggregation message in the share phase before its deadline (after advertising its keys)');
        // The honest pair was never failed.
        expect(r.failed.filter((f) => f.siteId === 'site-1' || f.siteId === 'site-2')).toEqual([]);
      }
    } finally {
      await fed.coordinator.close();
      await Promise.allSettled(fed.siteRuns);
    }
  }, 180_000);
});
