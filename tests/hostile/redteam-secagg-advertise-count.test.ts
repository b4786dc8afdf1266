import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import type { ClientConnector, ClientToServer } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';
import { rewritingSends } from '../helpers/rewriting-sends.ts';

/**
 * A site of a secure-aggregation round advertises its keys with an example count above the one it announced at
 * hello (plain rounds refuse such a fitResult with 'invalid_count'). The coordinator never sees a secure site's
 * update, so the count it reports is all the round record, the report's totals and the aggregate's example count
 * know of it: one site could claim the run's whole cap. Its advertisement is refused for that site alone
 * ('invalid_count', before its keys enter the round) and the round goes on with the others; a count equal to
 * the announced one is taken.
 */
type Advertise = ClientToServer['secaggAdvertise'];

/** Rewrites the site's advertised count from the count it announced at hello. */
function claiming(connector: ClientConnector, claim: (announced: number) => number): ClientConnector {
  let announced = 0;
  return rewritingSends(connector, (event, payload) => {
    if (event === 'hello') announced = (payload as ClientToServer['hello']).capabilities.numExamples;
    return event === 'secaggAdvertise' ? { ...(payload as Advertise), numExamples: claim(announced) } : payload;
  });
}

async function runWith(claim: (announced: number) => number) {
  const events: EngineEvent[] = [];
  const fed = await startTestFederation({
    sites: 4,
    rounds: 1,
    transport: 'socket',
    maxSiteExamples: 40,
    holdoutExamples: 100,
    onEvent: (e) => events.push(e),
    config: { federatedEvaluation: 'never', maxRoundAttempts: 1, secureAggregation: { clip: 1, phaseTimeoutMs: 10_000 } },
    wrapConnector: (siteId, connector) => (siteId === 'site-4' ? claiming(connector, claim) : connector),
  });
  try {
    const report = await fed.coordinator.done;
    const joined = events.find((e): e is Extract<EngineEvent, { type: 'site-joined' }> => e.type === 'site-joined' && e.siteId === 'site-4');
    return { report, events, announced: joined?.numExamples ?? NaN };
  } finally {
    await fed.coordinator.close();
    await Promise.allSettled(fed.siteRuns);
  }
}

function refusalOf(events: EngineEvent[], siteId: string): string | undefined {
  const e = events.find((x) => x.type === 'result' && x.siteId === siteId && !x.accepted);
  return e && 'reason' in e ? e.reason : undefined;
}

describe('secure aggregation: a site advertises more examples than it announced at hello', () => {
  it.each([
    ['one more than announced (just past the edge)', (announced: number) => announced + 1, 'claims more examples than the'],
    ["the run's whole cap (1,000,000)", () => 1_000_000, 'claims more examples than the'],
    ["one past the run's cap", () => 1_000_001, 'number of examples must be an integer in 1..1000000'],
    ['zero examples', () => 0, 'number of examples must be an integer in 1..1000000'],
  ])('%s: refused (invalid_count) for that site alone; the round goes on with the others', async (_name, claim, why) => {
    const { report, events, announced } = await runWith(claim);
    expect(report.status, report.aborted).toBe('complete');
    const round = report.rounds[0];
    expect(round.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
    expect(round.accepted.every((a) => a.numExamples <= announced)).toBe(true);
    expect(round.rejected).toContainEqual(expect.objectContaining({ siteId: 'site-4', code: 'invalid_count' }));
    expect(refusalOf(events, 'site-4')).toContain(why);
  }, 120_000);

  it('the count it announced (the edge) is taken: all four sites are in the sum', async () => {
    const { report, announced } = await runWith((n) => n);
    expect(report.status, report.aborted).toBe('complete');
    const round = report.rounds[0];
    expect(round.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3', 'site-4']);
    expect(round.accepted.find((a) => a.siteId === 'site-4')!.numExamples).toBe(announced);
    expect(round.rejected).toEqual([]);
  }, 120_000);
});
