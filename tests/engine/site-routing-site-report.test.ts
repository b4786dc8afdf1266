import { afterEach, expect, it } from 'vitest';
import { closeAll, fitResult, peer, RUN, start, type Peer } from './site-routing-helpers.ts';

/**
 * The per-site report after the final round, as the router feeds it (site-message-router.ts): only an answer for
 * its round and run counts, a failure counts only for its round, and neither is refused (over the in-memory transport).
 */

afterEach(closeAll);

const siteReportResult = (siteId: string, round: number, accuracy: number) => ({ runId: RUN, round, siteId, numExamples: 10, arms: { global: { accuracy, loss: 0.5 } }, durationMs: 1 });

async function trainThenReport(a: Peer, b: Peer): Promise<number> {
  const [fa, fb] = await Promise.all([a.next('fit'), b.next('fit')]);
  a.send('fitResult', fitResult('site-a', fa.round as number, fa.weights as Uint8Array));
  b.send('fitResult', fitResult('site-b', fb.round as number, fb.weights as Uint8Array));
  const [ra] = await Promise.all([a.next('siteReport'), b.next('siteReport')]);
  return ra.round as number;
}

it('takes a report only for its round and run, and a failure only for its round', async () => {
  // A short round timeout: the site whose failure names another round is missing when it passes.
  const { coordinator, network } = await start({ quorum: 0.5, federatedEvaluation: 'never', siteRobustness: { when: 'final' }, roundTimeoutMs: 1_500 });
  const a = await peer(network, 'site-a');
  const b = await peer(network, 'site-b');
  const round = await trainThenReport(a, b);
  a.send('siteReportResult', siteReportResult('site-a', round + 1, 0.9));
  a.send('siteReportResult', { ...siteReportResult('site-a', round, 0.8), runId: 'another' });
  a.send('siteReportResult', siteReportResult('site-a', round, 0.25));
  b.send('siteFailure', { runId: RUN, round: round + 1, siteId: 'site-b', code: 'internal', reason: 'not this one' });
  const report = await coordinator.done;
  expect(report.status, report.aborted).toBe('complete');
  const section = report.siteReport!;
  expect(section.sites.map((s) => [s.siteId, s.arms.global.accuracy])).toEqual([['site-a', 0.25]]);
  expect(section.missing).toEqual([{ siteId: 'site-b', reason: 'no report before the round timeout' }]);
  expect([...a.messages, ...b.messages].filter((m) => m.event === 'rejected')).toEqual([]);
});

it("a site's failure in the report's round is its reason, on one line; the report does not wait for it", async () => {
  const { coordinator, network } = await start({ quorum: 0.5, federatedEvaluation: 'never', siteRobustness: { when: 'final' }, roundTimeoutMs: 30_000 });
  const a = await peer(network, 'site-a');
  const b = await peer(network, 'site-b');
  const round = await trainThenReport(a, b);
  a.send('siteReportResult', siteReportResult('site-a', round, 0.5));
  b.send('siteFailure', { runId: RUN, round, siteId: 'site-b', code: 'internal', reason: 'out of\nmemory' });
  const started = Date.now();
  const report = await coordinator.done;
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(report.siteReport!.missing).toEqual([{ siteId: 'site-b', reason: 'internal: out of memory' }]);
});

it('a site that reconnects or leaves during the site report is missing, with why', async () => {
  // Tokens stand in for a site that proves its name: a new connection takes it from the live one.
  const { coordinator, network } = await start({ minSites: 3, quorum: 0.3, federatedEvaluation: 'never', siteRobustness: { when: 'final' }, roundTimeoutMs: 30_000 }, { authorize: () => ({ ok: true, authenticated: true }) } as never);
  const a = await peer(network, 'site-a');
  const b = await peer(network, 'site-b');
  const c = await peer(network, 'site-c');
  const fits = await Promise.all([a, b, c].map((p) => p.next('fit')));
  [a, b, c].forEach((p, i) => p.send('fitResult', fitResult(['site-a', 'site-b', 'site-c'][i], fits[i].round as number, fits[i].weights as Uint8Array)));
  const [ra] = await Promise.all([a.next('siteReport'), b.next('siteReport'), c.next('siteReport')]);
  a.send('siteReportResult', siteReportResult('site-a', ra.round as number, 0.5));
  await peer(network, 'site-b');
  c.link.close();
  const report = await coordinator.done;
  expect(report.siteReport!.missing).toEqual([
    { siteId: 'site-b', reason: 'reconnected during the site report' },
    { siteId: 'site-c', reason: 'disconnected: closed by peer' },
  ]);
  // A site joining after the run is complete is told so, not offered the terms.
  const late = await peer(network, 'site-late');
  expect(await late.next('complete')).toMatchObject({ runId: RUN, rounds: 1 });
  expect(late.messages.some((m) => m.event === 'terms')).toBe(false);
});
