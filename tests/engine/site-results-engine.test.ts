import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, fitResult, peer, RUN, start, type Peer } from './site-routing-helpers.ts';

/**
 * The federated evaluation end to end over the in-memory transport, with hand-driven peers: what a hostile site's
 * evaluation answers can do to the federated accuracy (nothing but their one, well-formed, capped answer).
 */

afterEach(closeAll);

const answer = (siteId: string, round: number, accuracy: number, numExamples: number, loss = 0.5) => ({ runId: RUN, round, siteId, numExamples, metrics: { loss, accuracy } });

async function trainThenEvaluate(peers: Peer[]): Promise<number> {
  const fits = await Promise.all(peers.map((p) => p.next('fit')));
  peers.forEach((p, i) => p.send('fitResult', fitResult(`site-${'abc'[i]}`, fits[i].round as number, fits[i].weights as Uint8Array)));
  const evaluations = await Promise.all(peers.map((p) => p.next('evaluate')));
  return evaluations[0].round as number;
}

describe('federated evaluation answers from hostile sites', () => {
  it('non-finite or out-of-range metrics and counts are refused, and the site is out of the evaluation; a second answer or one for another round counts for nothing', async () => {
    const { coordinator, network } = await start({ minSites: 3, federatedEvaluation: 'every-round', quorum: 0.5 });
    const [a, b, c] = await Promise.all(['site-a', 'site-b', 'site-c'].map((id) => peer(network, id)));
    const round = await trainThenEvaluate([a, b, c]);
    const hostile = [
      answer('site-a', round, Number.NaN, 10),
      answer('site-a', round, 1.5, 10),
      answer('site-a', round, -0.25, 10),
      answer('site-a', round, 0.5, -1),
      answer('site-a', round, 0.5, 2.5),
      answer('site-a', round, 0.5, 1e300),
      answer('site-a', round, 0.5, 10, Number.POSITIVE_INFINITY),
      answer('site-a', round, 0.5, 10, -1),
    ];
    for (const h of hostile) {
      a.send('evaluateResult', h);
      const r = await a.next('rejected');
      expect(r.code).toBe('malformed_payload');
      expect(String(r.reason).length).toBeLessThanOrEqual(2000);
    }
    // Refused once, site-a is no longer waited for: a well-formed answer after that is not taken either.
    a.send('evaluateResult', answer('site-a', round, 0.5, 10));
    b.send('evaluateResult', answer('site-b', round + 1, 0, 1000));
    b.send('evaluateResult', answer('site-b', round, 0.75, 30));
    b.send('evaluateResult', answer('site-b', round, 0, 1000));
    // site-c claims a test split 30 000 times site-b's: it is held to the 40 training examples it announced at hello.
    c.send('evaluateResult', answer('site-c', round, 1, 1_000_000));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    const federated = report.rounds[0].federated!;
    expect(federated.sites).toEqual([
      { siteId: 'site-b', accuracy: 0.75, loss: 0.5, numExamples: 30 },
      { siteId: 'site-c', accuracy: 1, loss: 0.5, numExamples: 40 },
    ]);
    // (0.75 × 30 + 1 × 40) / 70
    expect(federated.accuracy).toBeCloseTo(62.5 / 70, 14);
    expect(federated.worstSite).toEqual({ siteId: 'site-b', accuracy: 0.75 });
    expect(federated.mean).toBe(0.875);
  });
});
