import { describe, expect, it } from 'vitest';
import type { ClientConnector } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

/**
 * A site whose evaluation answer is refused — it fails its schema, or claims another site's id — is out of the
 * federated evaluation, as a refused update is out of the training round. Before 2026-12-05 the evaluation (and
 * secure aggregation's phases: redteam-secagg-message-chaos.test.ts) went on waiting for it until the deadline
 * (20 s here, the round timeout: 5 minutes by default), every round. (A silent site still costs the deadline; the
 * site report after the final round keeps waiting on purpose: a site may follow a refused report with a valid one.)
 */
type Payload = Record<string, any>;
const changes: Array<[string, string, (p: Payload) => Payload]> = [
  ['an evaluation result with accuracy 5 (schema)', 'evaluateResult', (p) => ({ ...p, metrics: { ...p.metrics, accuracy: 5 } })],
  ['an evaluation result with −1 examples (schema)', 'evaluateResult', (p) => ({ ...p, numExamples: -1 })],
  ['an evaluation result claiming site-1', 'evaluateResult', (p) => ({ ...p, siteId: 'site-1' })],
];

function changing(connector: ClientConnector, event: string, change: (p: Payload) => Payload): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link) as (e: string, p: unknown) => void;
      link.send = ((e: string, p: Payload) => send(e, e === event ? change(p) : p)) as typeof link.send;
      return link;
    },
  };
}

describe('a refused evaluation answer takes the site out of the evaluation', () => {
  it.each(changes)('%s', async (_what, event, change) => {
    const fed = await startTestFederation({
      sites: 4,
      rounds: 2,
      transport: 'memory',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { federatedEvaluation: 'every-round', roundTimeoutMs: 20_000, siteRobustness: { when: 'final', examples: 20, adversarialExamples: 20 } },
      wrapConnector: (siteId, c) => (siteId === 'site-3' ? changing(c, event, change) : c),
    });
    const started = Date.now();
    try {
      const report = await fed.coordinator.done;
      expect(report.status, report.aborted).toBe('complete');
      expect(Date.now() - started).toBeLessThan(20_000);
      for (const round of report.rounds) expect(round.rejected.map((r) => r.siteId)).toEqual(['site-3']);
    } finally {
      await fed.coordinator.close();
      await Promise.allSettled(fed.siteRuns);
    }
  }, 90_000);
});
