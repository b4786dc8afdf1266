import { afterEach, describe, expect, it } from 'vitest';
import { MAX_REPORTED_EXAMPLES } from '@fedtune/shared';
import { CoordinatorIdentity } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';
import { EvaluationCollector } from '../../coordinator/src/engine/evaluation-collector.ts';
import { SiteReportRound } from '../../coordinator/src/engine/site-report-round.ts';
import { closeAll, contextOf, counts, fitResult, ofType, peer, RUN, sha256, start, until } from './site-routing-helpers.ts';

/**
 * What the coordinator does with what a connected site sends (site-message-router.ts, site-membership.ts,
 * site-registry.ts), pinned exactly over the in-memory transport with hand-driven peers: every refusal's code,
 * words and round, every event the audit log and console see, and which site is joined, refused or gone.
 */

afterEach(closeAll);

describe('before the first round: what a joined or joining site may send', () => {
  it('a site that has not accepted the terms may only send heartbeats; once it accepts it is joined, with what its hello said', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a', { accept: false, backend: 'wasm\nFORGED', numExamples: 33 });
    const terms = await a.next('terms');
    a.send('heartbeat', { siteId: 'site-a', status: 'training' });
    a.send('dataSummary', { runId: RUN, siteId: 'site-a', ...counts });
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: 'accept the run\'s terms before sending "dataSummary"' });
    // The heartbeat was taken (its status recorded), and the pending site is registered but not joined.
    const pending = coordinator.engine.sites.get('site-a')!;
    expect(pending.status).toBe('training');
    expect(pending.termsAccepted).toBe(false);
    expect(pending.backend).toBe('wasm FORGED');
    expect(coordinator.engine.sites.size).toBe(0);
    expect(coordinator.engine.sites.ids()).toEqual([]);
    expect(ofType(events, 'site-joined')).toEqual([]);

    a.send('acceptTerms', { runId: RUN, siteId: 'site-a', hash: (terms as { hash: string }).hash });
    await until(() => ofType(events, 'site-joined').length === 1, 'site-a joined');
    expect(ofType(events, 'site-joined')).toEqual([{ type: 'site-joined', siteId: 'site-a', backend: 'wasm FORGED', runtime: 'node', numExamples: 33 }]);
    expect(coordinator.engine.sites.size).toBe(1);
    expect(coordinator.engine.sites.ids()).toEqual(['site-a']);
    expect(coordinator.engine.sites.all().map((s) => s.siteId)).toEqual(['site-a']);
    expect(coordinator.engine.sites.has('site-a')).toBe(true);
    expect(coordinator.engine.report.terms?.hash).toBe((terms as { hash: string }).hash);
    await until(() => ofType(events, 'waiting').some((e) => e.joined === 1), 'waiting with one joined');
    expect(ofType(events, 'waiting')[0]).toEqual({ type: 'waiting', joined: 0, needed: 2 });
    expect(ofType(events, 'waiting').at(-1)).toEqual({ type: 'waiting', joined: 1, needed: 2 });
  });

  it('a message claiming another site is refused as unauthorized, naming both, with its round when it has one', async () => {
    const { network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    a.send('heartbeat', { siteId: 'site-b', status: 'idle' });
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: 'connection joined as site-a but the message claims site-b' });
    a.send('fitResult', fitResult('site-b', 7, new Uint8Array(8)));
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: 'connection joined as site-a but the message claims site-b', round: 7 });
    // Refused before anything is recorded of it: no update was received.
    expect(ofType(events, 'update-received')).toEqual([]);
    // A claim before the terms: refused as another site, not for the terms.
    const c = await peer(network, 'site-c', { accept: false });
    await c.next('terms');
    c.send('acceptTerms', { runId: RUN, siteId: 'site-a', hash: 'a'.repeat(64) });
    expect(await c.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: 'connection joined as site-c but the message claims site-a' });
  });

  it('a fit result with no round open is audited under the last round, its count only when a site could have it, and refused stale', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    const weights = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const claims = [40, 0, MAX_REPORTED_EXAMPLES, MAX_REPORTED_EXAMPLES + 1, -1, 1.5, 1e300];
    for (const n of claims) {
      a.send('fitResult', fitResult('site-a', 3, weights, n));
      expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'stale_round', reason: 'no round is in progress', round: 3 });
    }
    const received = ofType(events, 'update-received');
    const base = { type: 'update-received', round: 0, siteId: 'site-a', message: 'fitResult', sha256: sha256(weights), bytes: 8 };
    expect(received).toEqual([{ ...base, numExamples: 40 }, { ...base, numExamples: 0 }, { ...base, numExamples: MAX_REPORTED_EXAMPLES }, base, base, base, base]);
    for (const e of received.slice(3)) expect(e).not.toHaveProperty('numExamples');
    // A late result is the site heard from (nothing waits for it): it stays joined and idle.
    expect(coordinator.engine.sites.get('site-a')!.status).toBe('idle');
    expect(coordinator.engine.report.rounds).toEqual([]);
  });

  it('a secure-aggregation message with no secure round: audited and given a result event under the coordinator\'s round (0: none yet), refused stale with the peer\'s round echoed', async () => {
    const { network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    const masked = new Uint8Array(12).fill(9);
    a.send('secaggMasked', { runId: RUN, round: 2, attempt: 1, siteId: 'site-a', masked });
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'stale_round', reason: 'no secure-aggregation round is in progress', round: 2 });
    // Never the round the peer names: a peer naming a new round per message would scatter its refusals over the log.
    expect(ofType(events, 'update-received')).toEqual([{ type: 'update-received', round: 0, siteId: 'site-a', message: 'secaggMasked', sha256: sha256(masked), bytes: 12 }]);
    expect(ofType(events, 'result')).toEqual([{ type: 'result', round: 0, siteId: 'site-a', accepted: false, code: 'stale_round', reason: 'no secure-aggregation round is in progress' }]);
    // Other secure-aggregation messages are refused alike, and not audited as updates.
    a.send('secaggShareKeys', { runId: RUN, round: 4, attempt: 1, siteId: 'site-a', shares: [] });
    const r = await a.next('rejected');
    expect(r.round).toBe(4);
    a.send('secaggUnmaskResponse', { runId: RUN, round: 5, attempt: 1, siteId: 'site-a', selfMaskShares: [], maskingKeyShares: [] });
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'stale_round', reason: 'no secure-aggregation round is in progress', round: 5 });
    expect(ofType(events, 'update-received')).toHaveLength(1);
  });

  it('a message failing its schema: a result event and a refusal, the reason on one line, round 0 with none open', async () => {
    const { network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    a.send('fitResult', { runId: RUN, round: 1, siteId: 'site-a', numExamples: 4, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const rejected = await a.next('rejected');
    expect(rejected.code).toBe('malformed_payload');
    expect(rejected.round).toBeUndefined();
    const results = ofType(events, 'result');
    expect(results).toEqual([{ type: 'result', round: 0, siteId: 'site-a', accepted: false, code: 'malformed_payload', reason: rejected.reason }]);
    expect(String(rejected.reason)).not.toMatch(/[\n\r]/);
    expect(String(rejected.reason)).toMatch(/weights/);
  });

  it('a data summary is recorded once, as an event without its run and site; a second is refused with its code', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    a.send('dataSummary', { runId: RUN, siteId: 'site-a', ...counts });
    await until(() => ofType(events, 'data-summary').length === 1, 'summary recorded');
    expect(ofType(events, 'data-summary')).toEqual([{ type: 'data-summary', siteId: 'site-a', summary: counts }]);
    expect(coordinator.engine.report.dataSummaries).toEqual({ total: { sites: 1, ...counts }, sites: [{ siteId: 'site-a', ...counts }] });
    a.send('dataSummary', { runId: RUN, siteId: 'site-a', ...counts, examples: 41 });
    const r = await a.next('rejected');
    expect(r).toEqual({ runId: RUN, code: 'duplicate_result', reason: expect.stringMatching(/sent its data summary already/) });
    expect(ofType(events, 'data-summary')).toHaveLength(1);
    expect(coordinator.engine.report.dataSummaries).toEqual({ total: { sites: 1, ...counts }, sites: [{ siteId: 'site-a', ...counts }] });
    a.send('dataSummary', { runId: 'another', siteId: 'site-a', ...counts });
    expect((await a.next('rejected')).code).toBe('stale_round');
  });

  it.each([
    ['label counts past its examples', { labelCounts: [21, 20] }, 'data summary refused: its label counts sum to 41, more than its 40 examples'],
    ['fewer examples than announced', { examples: 39, labelCounts: [19, 20] }, 'data summary refused: 39 examples, fewer than the 40 training examples announced at hello'],
    ['over 10 × the announced', { examples: 401, labelCounts: [200, 201] }, 'data summary refused: 401 examples, more than 10 × the 40 training examples announced at hello'],
  ])('a data summary with %s is refused (malformed_payload) and changes nothing; 10 × the announced is taken', async (_what, change, reason) => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    a.send('dataSummary', { runId: RUN, siteId: 'site-a', ...counts, ...change });
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'malformed_payload', reason });
    expect(coordinator.engine.report.dataSummaries).toBeUndefined();
    const atEdge = { ...counts, examples: 400, labelCounts: [200, 200] };
    a.send('dataSummary', { runId: RUN, siteId: 'site-a', ...atEdge });
    await until(() => ofType(events, 'data-summary').length === 1, 'summary recorded');
    expect(coordinator.engine.report.dataSummaries!.total).toEqual({ sites: 1, ...atEdge });
  });

  it('a test-split count past the training examples announced at hello is held to them, in an evaluation and a site report', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a', { numExamples: 33 });
    const b = await peer(network, 'site-b', { numExamples: 33 });
    await until(() => ofType(events, 'site-joined').length === 2, 'joined');
    const ctx = contextOf(coordinator);
    const evaluation = new EvaluationCollector(1, ['site-a', 'site-b'], 60_000);
    ctx.evaluation = evaluation;
    a.send('evaluateResult', { runId: RUN, round: 1, siteId: 'site-a', numExamples: 1_000_000_000, metrics: { loss: 0.5, accuracy: 0 } });
    b.send('evaluateResult', { runId: RUN, round: 1, siteId: 'site-b', numExamples: 33, metrics: { loss: 0.5, accuracy: 1 } });
    await evaluation.done;
    expect([...evaluation.results.values()].map((r) => [r.siteId, r.numExamples])).toEqual([['site-a', 33], ['site-b', 33]]);
    ctx.evaluation = undefined;
    const reportRound = new SiteReportRound(2, ['site-a', 'site-b'], 60_000);
    ctx.siteReportRound = reportRound;
    a.send('siteReportResult', { runId: RUN, round: 2, siteId: 'site-a', numExamples: 34, arms: { global: { accuracy: 0.5, loss: 0.5 } }, durationMs: 1 });
    b.send('siteReportResult', { runId: RUN, round: 2, siteId: 'site-b', numExamples: 32, arms: { global: { accuracy: 0.5, loss: 0.5 } }, durationMs: 1 });
    await reportRound.done;
    expect(reportRound.section(ctx.config).sites.map((s) => [s.siteId, s.numExamples])).toEqual([['site-a', 33], ['site-b', 32]]);
    ctx.siteReportRound = undefined;
  });

  it('an evaluation answer or a site report with none asked for is ignored, not refused', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    const state = coordinator.engine.sites.get('site-a')!;
    state.heldModelVersion = 2;
    a.send('evaluateResult', { runId: RUN, round: 1, siteId: 'site-a', numExamples: 10, metrics: { loss: 0.5, accuracy: 0.5 }, heldModelVersion: 7 });
    a.send('siteReportResult', { runId: RUN, round: 1, siteId: 'site-a', numExamples: 10, arms: { global: { accuracy: 0.5, loss: 0.5 } }, durationMs: 1 });
    a.send('heartbeat', { siteId: 'site-a', status: 'evaluating' });
    await until(() => state.status === 'evaluating', 'the heartbeat after them');
    expect(state.heldModelVersion).toBe(2);
    expect(a.messages.filter((m) => m.event === 'rejected')).toEqual([]);
  });

  it('a site failure with no round open forgets the model the site held, and nothing else', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    const state = coordinator.engine.sites.get('site-a')!;
    state.heldModelVersion = 3;
    a.send('siteFailure', { runId: RUN, round: 1, siteId: 'site-a', code: 'internal', reason: 'out of memory' });
    a.send('heartbeat', { siteId: 'site-a', status: 'evaluating' });
    await until(() => state.status === 'evaluating', 'heartbeat after the failure');
    expect(state.heldModelVersion).toBeUndefined();
    expect(coordinator.engine.sites.size).toBe(1);
  });

  it('the terms: a refusal is counted and reported and the site cut; a wrong hash is refused and cut; neither joins', async () => {
    const { coordinator, network, events } = await start();
    const r = await peer(network, 'site-r', { accept: false });
    await r.next('terms');
    r.send('refuseTerms', { runId: RUN, siteId: 'site-r', code: 'policy', reason: 'too many\nrounds' });
    await r.closed;
    const refusals = coordinator.engine.report.termsRefusals!;
    expect(refusals.total).toBe(1);
    expect(refusals.sites).toEqual([{ siteId: 'site-r', reason: expect.stringMatching(/too many rounds$/), at: expect.any(String) }]);
    expect(ofType(events, 'site-refused')).toEqual([{ type: 'site-refused', siteId: 'site-r', reason: refusals.sites[0].reason }]);
    expect(ofType(events, 'site-left')).toEqual([]);

    const w = await peer(network, 'site-w', { accept: false });
    await w.next('terms');
    w.send('acceptTerms', { runId: RUN, siteId: 'site-w', hash: 'f'.repeat(64) });
    expect(await w.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: expect.stringMatching(/^accepted terms ffffffffffffffff… of run routing; this run's terms are /) });
    await w.closed;
    expect(coordinator.engine.sites.size).toBe(0);
    expect(ofType(events, 'site-joined')).toEqual([]);
    expect(coordinator.engine.report.termsRefusals!.total).toBe(1);
  });

  it('a joined site that leaves is reported gone with the reason; one that never accepted leaves silently', async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    const p = await peer(network, 'site-p', { accept: false });
    await p.next('terms');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    p.link.close();
    a.link.close();
    await until(() => ofType(events, 'site-left').length === 1, 'site-a left');
    await new Promise((r) => setTimeout(r, 30));
    expect(ofType(events, 'site-left')).toEqual([{ type: 'site-left', siteId: 'site-a', reason: 'closed by peer' }]);
    expect(coordinator.engine.sites.size).toBe(0);
    expect(coordinator.engine.sites.has('site-p')).toBe(false);
    expect(coordinator.engine.sites.has('site-a')).toBe(false);
  });
});

describe('hello refusals told to the audit log', () => {
  it('each refused hello is reported with its code and a clipped reason; a rate-limited one is not', async () => {
    const authorize = (hello: { siteId: string }) => {
      if (hello.siteId === 'site-x') return false;
      if (hello.siteId === 'site-y') return { ok: false as const, reason: `no${'!'.repeat(400)}` };
      if (hello.siteId === 'site-z') return { ok: false as const, code: 'rate_limited' as const, reason: 'slow down' };
      if (hello.siteId === 'site-q') return { ok: false as const, code: 'unauthorized' as const, reason: 'bad token' };
      return hello.siteId === 'site-o' ? { ok: true as const } : true;
    };
    const { coordinator, network, events } = await start({}, { authorize } as never);
    for (const id of ['site-x', 'site-y', 'site-z', 'site-q']) {
      const p = await peer(network, id);
      const r = await p.next('rejected');
      expect(r.code).toBe(id === 'site-z' ? 'rate_limited' : 'unauthorized');
    }
    const o = await peer(network, 'site-o');
    await o.next('welcome');
    const k = await peer(network, 'site-k');
    await k.next('welcome');
    expect(ofType(events, 'hello-refused')).toEqual([
      { type: 'hello-refused', siteId: 'site-x', code: 'unauthorized', reason: 'site site-x is not allowed to join' },
      { type: 'hello-refused', siteId: 'site-y', code: 'unauthorized', reason: `no${'!'.repeat(298)}… (102 more characters)` },
      { type: 'hello-refused', siteId: 'site-q', code: 'unauthorized', reason: 'bad token' },
    ]);
    await until(() => coordinator.engine.sites.size === 2, 'two joined');
  });
});

describe('waiting for sites', () => {
  it('too few sites within joinTimeoutMs abort the run, saying how many of how many within how long', async () => {
    const { coordinator, network } = await start({ joinTimeoutMs: 300 });
    await peer(network, 'site-a');
    const report = await coordinator.done;
    expect(report.status).toBe('aborted');
    expect(report.aborted).toContain('only 1 of 2 sites joined within 300 ms');
    expect(report.abortedCode).toBe('timeout');
  });

  it('a stop wakes the wait (joinTimeoutMs 0 waits for ever) and ends the run aborted, saying so', async () => {
    const { coordinator, network, events } = await start({ joinTimeoutMs: 0 });
    await peer(network, 'site-a');
    await until(() => ofType(events, 'waiting').some((e) => e.joined === 1), 'waiting with one joined');
    coordinator.engine.stop();
    const report = await coordinator.done;
    expect(report.status).toBe('aborted');
    expect(report.aborted).toBe('stopped while waiting for sites');
    // A stop is no error: no code.
    expect(report.abortedCode).toBeUndefined();
    // One 'waiting' per change, however long the wait (no deadline: no timer firing in a loop).
    expect(ofType(events, 'waiting')).toEqual([
      { type: 'waiting', joined: 0, needed: 2 },
      { type: 'waiting', joined: 1, needed: 2 },
    ]);
  });

  it("the terms a site is sent are signed with the coordinator's own identity (its runs directory's identity.json)", async () => {
    const runsDir = tempDir('fedtune-routing-identity-');
    const { coordinator, network } = await start({ joinTimeoutMs: 30_000 }, { runsDir });
    const a = await peer(network, 'site-a', { accept: false });
    const terms = (await a.next('terms')) as { terms: { coordinator: string }; hash: string };
    const identity = CoordinatorIdentity.loadOrCreate(runsDir);
    expect(terms.terms.coordinator).toBe(identity.publicKey);
    expect(coordinator.engine.report.terms).toEqual({ hash: terms.hash, coordinator: identity.publicKey });
  });

  it('a site joining after the run is over is told it is complete', async () => {
    const { coordinator, network } = await start({ joinTimeoutMs: 100 });
    const report = await coordinator.done;
    expect(report.status).toBe('aborted');
    const late = await peer(network, 'site-late');
    const complete = await late.next('complete');
    expect(complete).toMatchObject({ runId: RUN, rounds: 0 });
    expect(late.messages.some((m) => m.event === 'terms')).toBe(false);
    expect(coordinator.engine.sites.size).toBe(0);
  });
});

describe('the sample', () => {
  it('draws none of the sites the round leaves out (those a failed secure attempt could not recover)', async () => {
    const { coordinator, network, events } = await start({ minSites: 4, fraction: 1 });
    for (const id of ['site-a', 'site-b', 'site-c']) await peer(network, id);
    await until(() => ofType(events, 'site-joined').length === 3, 'three joined');
    const { membership } = contextOf(coordinator);
    expect(membership.sample(1, 1)).toEqual({ selected: ['site-a', 'site-b', 'site-c'], cooling: [], busy: [] });
    expect(membership.sample(1, 2, new Set(['site-b']))).toEqual({ selected: ['site-a', 'site-c'], cooling: [], busy: [] });
  });
});

describe('in a round', () => {
  it('an impostor update is recorded refused and the site is answered; a failure is recorded on one line; the honest update counts', async () => {
    const { coordinator, network, events } = await start({ minSites: 3, fraction: 1, quorum: 0.3, federatedEvaluation: 'never' });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const c = await peer(network, 'site-c');
    const [fa, fb] = await Promise.all([a.next('fit'), b.next('fit'), c.next('fit')]);
    const round = fa.round as number;
    a.send('fitResult', fitResult('site-b', round, fa.weights as Uint8Array));
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: 'connection joined as site-a but the message claims site-b', round });
    // A failure naming another round is not this round's.
    c.send('siteFailure', { runId: RUN, round: round + 1, siteId: 'site-c', code: 'internal', reason: 'another round' });
    c.send('siteFailure', { runId: RUN, round, siteId: 'site-c', code: 'internal', reason: 'out\nof\u001b[31m memory' });
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array));
    const report = await coordinator.done;
    expect(report.status).toBe('complete');
    const r = report.rounds[0];
    expect(r.selected).toEqual(['site-a', 'site-b', 'site-c']);
    // Each connection got the model's topology once, before its first instruction.
    for (const p of [a, b, c]) expect(p.messages.filter((m) => m.event === 'model')).toHaveLength(1);
    expect(r.accepted.map((u) => u.siteId)).toEqual(['site-b']);
    expect(r.rejected).toEqual([{ siteId: 'site-a', code: 'unauthorized', reason: 'connection joined as site-a but the message claims site-b' }]);
    expect(r.failed).toEqual([{ siteId: 'site-c', reason: 'internal: out of [31m memory' }]);
    expect(ofType(events, 'result').filter((e) => e.accepted)).toEqual([{ type: 'result', round, siteId: 'site-b', accepted: true }]);
    const received = ofType(events, 'update-received');
    expect(received).toEqual([{ type: 'update-received', round, siteId: 'site-b', message: 'fitResult', sha256: sha256(fb.weights as Uint8Array), bytes: (fb.weights as Uint8Array).byteLength, numExamples: 40 }]);
  });

  it('a refused update is answered with its code and the round; a second from the same site is a duplicate', async () => {
    const { coordinator, network, events } = await start({ minSites: 2, fraction: 1, quorum: 0.5, federatedEvaluation: 'never' });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const [fa, fb] = await Promise.all([a.next('fit'), b.next('fit')]);
    const round = fa.round as number;
    a.send('fitResult', { ...fitResult('site-a', round, fa.weights as Uint8Array), runId: 'other-run' });
    const refused = await a.next('rejected');
    expect(refused).toMatchObject({ round });
    expect(typeof refused.code).toBe('string');
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array));
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array));
    const dup = await b.next('rejected');
    expect(dup).toMatchObject({ round });
    const report = await coordinator.done;
    const r = report.rounds[0];
    expect(r.accepted.map((u) => u.siteId)).toEqual(['site-b']);
    expect(r.rejected.map((x) => [x.siteId, x.code])).toEqual([
      ['site-a', refused.code],
      ['site-b', dup.code],
    ]);
    const results = ofType(events, 'result');
    expect(results).toEqual([
      { type: 'result', round, siteId: 'site-a', accepted: false, code: refused.code, reason: refused.reason },
      { type: 'result', round, siteId: 'site-b', accepted: true },
      { type: 'result', round, siteId: 'site-b', accepted: false, code: dup.code, reason: dup.reason },
    ]);
  });

  it('a message failing its schema is recorded refused in the round, and answered with the round', async () => {
    const { coordinator, network, events } = await start({ quorum: 0.5, federatedEvaluation: 'never' });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const [fa, fb] = await Promise.all([a.next('fit'), b.next('fit')]);
    const round = fa.round as number;
    a.send('fitResult', { runId: RUN, round, siteId: 'site-a', numExamples: 4, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const rejected = await a.next('rejected');
    expect(rejected).toMatchObject({ code: 'malformed_payload', round });
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds[0].accepted.map((u) => u.siteId)).toEqual(['site-b']);
    expect(report.rounds[0].rejected).toEqual([{ siteId: 'site-a', code: 'malformed_payload', reason: rejected.reason }]);
    expect(ofType(events, 'result')[0]).toEqual({ type: 'result', round, siteId: 'site-a', accepted: false, code: 'malformed_payload', reason: rejected.reason });
  });

  it('a fraction samples ceil(fraction × sites) of them, at least one', async () => {
    const { coordinator, network } = await start({ minSites: 3, fraction: 0.5, quorum: 0.5, federatedEvaluation: 'never' });
    const peers = await Promise.all(['site-a', 'site-b', 'site-c'].map((id) => peer(network, id)));
    await until(() => peers.some((p) => p.messages.some((m) => m.event === 'fit')), 'a fit');
    await new Promise((r) => setTimeout(r, 50));
    const fitted = peers.filter((p) => p.messages.some((m) => m.event === 'fit'));
    expect(fitted).toHaveLength(2);
    for (const p of fitted) {
      const f = p.messages.find((m) => m.event === 'fit')!.payload;
      const id = ['site-a', 'site-b', 'site-c'][peers.indexOf(p)];
      p.send('fitResult', fitResult(id, f.round as number, f.weights as Uint8Array));
    }
    const report = await coordinator.done;
    expect(report.rounds[0].selected).toHaveLength(2);
    expect([...report.rounds[0].selected].sort()).toEqual(report.rounds[0].selected);
  });

  it('the sample is listed in canonical (sorted) order, whatever order the seeded draw picked it in', async () => {
    const ids = ['site-a', 'site-b', 'site-c', 'site-d', 'site-e', 'site-f', 'site-g'];
    const { coordinator, network, events } = await start({ minSites: ids.length, fraction: 0.5, quorum: 0.1, seed: 3, federatedEvaluation: 'never' });
    const peers = await Promise.all(ids.map((id) => peer(network, id)));
    await until(() => ofType(events, 'round-start').length === 1, 'the round started');
    const selected = ofType(events, 'round-start')[0].selected;
    expect(selected).toHaveLength(4);
    expect(selected).toEqual([...selected].sort());
    for (const id of selected) {
      const p = peers[ids.indexOf(id)];
      const f = await p.next('fit');
      p.send('fitResult', fitResult(id, f.round as number, f.weights as Uint8Array));
    }
    const report = await coordinator.done;
    expect(report.rounds[0].selected).toEqual(selected);
  });
});
