import { afterEach, describe, expect, it } from 'vitest';
import { FedtuneError } from '@fedtune/shared';
import { closeAll, contextOf, fitResult, ofType, peer, RUN, sha256, start, until, type Peer } from './site-routing-helpers.ts';

/**
 * What a site's messages do to the phases of a round that wait for it (site-message-router.ts, site-membership.ts):
 * the federated evaluation (whose answers count, which model version a site is believed to hold), a secure round
 * (plain updates refused), and a site that reconnects or leaves mid-round. Over the in-memory transport.
 */

afterEach(closeAll);

const evaluateResult = (siteId: string, round: number, accuracy: number, extra: Record<string, unknown> = {}) => ({ runId: RUN, round, siteId, numExamples: 10, metrics: { loss: 0.5, accuracy }, ...extra });

/** Both peers answer their fit with the weights they were sent, and return their evaluate instructions. */
async function trainThenEvaluate(a: Peer, b: Peer): Promise<[Record<string, unknown>, Record<string, unknown>]> {
  const [fa, fb] = await Promise.all([a.next('fit'), b.next('fit')]);
  a.send('fitResult', fitResult('site-a', fa.round as number, fa.weights as Uint8Array));
  b.send('fitResult', fitResult('site-b', fb.round as number, fb.weights as Uint8Array));
  return Promise.all([a.next('evaluate'), b.next('evaluate')]);
}

describe('the federated evaluation', () => {
  it('counts only an answer for its round and run; believes a held version only when it is the one sent', async () => {
    const { coordinator, network } = await start({ federatedEvaluation: 'every-round', quorum: 0.5 });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const [ea, eb] = await trainThenEvaluate(a, b);
    const round = ea.round as number;
    const version = ea.modelVersion as number;
    expect(eb.modelVersion).toBe(version);
    coordinator.engine.sites.get('site-a')!.heldModelVersion = 99;
    // Answers for another round or run are ignored (the evaluation still waits for the site).
    a.send('evaluateResult', evaluateResult('site-a', round + 1, 0.9, { heldModelVersion: version }));
    a.send('evaluateResult', { ...evaluateResult('site-a', round, 0.8, { heldModelVersion: version }), runId: 'another' });
    await until(() => a.messages.length > 0 && coordinator.engine.sites.get('site-a')!.heldModelVersion === 99, 'ignored answers processed');
    a.send('evaluateResult', evaluateResult('site-a', round, 0.25, { heldModelVersion: version }));
    // A second answer is not asked for: neither its metrics nor its claim count.
    a.send('evaluateResult', evaluateResult('site-a', round, 0.5, { heldModelVersion: version + 1 }));
    b.send('evaluateResult', evaluateResult('site-b', round, 0.75, { heldModelVersion: version + 1 }));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds[0].federated!.sites).toEqual([
      { siteId: 'site-a', accuracy: 0.25, loss: 0.5, numExamples: 10 },
      { siteId: 'site-b', accuracy: 0.75, loss: 0.5, numExamples: 10 },
    ]);
    expect(coordinator.engine.sites.get('site-a')!.heldModelVersion).toBe(version);
    expect(coordinator.engine.sites.get('site-b')!.heldModelVersion).toBeUndefined();
    // Nothing about the ignored answers was refused: they are not errors, only not asked for.
    expect(a.messages.filter((m) => m.event === 'rejected')).toEqual([]);
  });

  it('without sitesKeepModel no held version is believed; an impostor answer and a failure take sites out at once', async () => {
    const { coordinator, network } = await start({ federatedEvaluation: 'every-round', quorum: 0.5, sitesKeepModel: false, roundTimeoutMs: 60_000 });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const [ea] = await trainThenEvaluate(a, b);
    const round = ea.round as number;
    coordinator.engine.sites.get('site-a')!.heldModelVersion = 5;
    a.send('evaluateResult', evaluateResult('site-b', round, 0.9));
    expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'unauthorized', reason: 'connection joined as site-a but the message claims site-b', round });
    b.send('siteFailure', { runId: RUN, round: round + 5, siteId: 'site-b', code: 'internal', reason: 'evaluation failed' });
    const started = Date.now();
    const report = await coordinator.done;
    // Neither the impostor nor the failed site is waited for (the deadline is a minute).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report.status, report.aborted).toBe('complete');
    // No usable answer: no federated summary (an average of nothing).
    expect(report.rounds[0].federated).toBeUndefined();
    expect(coordinator.engine.sites.get('site-b')!.heldModelVersion).toBeUndefined();
    // The impostor answer was not taken as site-a's: it holds what it held.
    expect(coordinator.engine.sites.get('site-a')!.heldModelVersion).toBe(5);

    const { coordinator: c2, network: n2 } = await start({ federatedEvaluation: 'every-round', quorum: 0.5, sitesKeepModel: false });
    const a2 = await peer(n2, 'site-a');
    const b2 = await peer(n2, 'site-b');
    const [e2] = await trainThenEvaluate(a2, b2);
    a2.send('evaluateResult', evaluateResult('site-a', e2.round as number, 0.5, { heldModelVersion: e2.modelVersion }));
    b2.send('evaluateResult', evaluateResult('site-b', e2.round as number, 0.5, { heldModelVersion: e2.modelVersion }));
    await c2.done;
    expect(c2.engine.sites.get('site-a')!.heldModelVersion).toBeUndefined();
  });
});

describe('a result after its round closed', () => {
  it('is refused stale, recorded in the round and told as a refused result, while the federated evaluation runs', async () => {
    // The round closes right after its quorum (2 of 3); the round's record stays open through the evaluation.
    const { coordinator, network, events } = await start({ minSites: 3, quorum: 0.5, federatedEvaluation: 'every-round', stragglers: { waitAfterQuorumMs: 0 } });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const c = await peer(network, 'site-c');
    const [fa, fb, fc] = await Promise.all([a.next('fit'), b.next('fit'), c.next('fit')]);
    const round = fa.round as number;
    a.send('fitResult', fitResult('site-a', round, fa.weights as Uint8Array));
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array));
    const [ea, eb, ec] = await Promise.all([a.next('evaluate'), b.next('evaluate'), c.next('evaluate')]);
    // A valid result (selected, first from the site), only late.
    c.send('fitResult', fitResult('site-c', round, fc.weights as Uint8Array));
    const reason = `round ${round} closed before this result arrived`;
    expect(await c.next('rejected')).toEqual({ runId: RUN, code: 'stale_round', reason, round });
    for (const [p, id, e] of [[a, 'site-a', ea], [b, 'site-b', eb], [c, 'site-c', ec]] as const) p.send('evaluateResult', evaluateResult(id, e.round as number, 0.5));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    const r = report.rounds[0];
    expect(r.accepted.map((u) => u.siteId)).toEqual(['site-a', 'site-b']);
    expect(r.rejected).toEqual([{ siteId: 'site-c', code: 'stale_round', reason }]);
    expect(ofType(events, 'result').filter((e) => e.siteId === 'site-c')).toEqual([{ type: 'result', round, siteId: 'site-c', accepted: false, code: 'stale_round', reason }]);
  });
});

describe('a secure-aggregation run', () => {
  it('refuses a plain update, answering with the round and recording it refused', async () => {
    const { network, events } = await start({ minSites: 3, secureAggregation: { clip: 1 }, federatedEvaluation: 'never' });
    const peers = await Promise.all(['site-a', 'site-b', 'site-c'].map((id) => peer(network, id)));
    const fit = await peers[0].next('fit');
    const round = fit.round as number;
    peers[0].send('fitResult', fitResult('site-a', round, new Uint8Array(8)));
    const reason = 'this run uses secure aggregation: plain updates are refused';
    expect(await peers[0].next('rejected')).toEqual({ runId: RUN, code: 'malformed_payload', reason, round });
    expect(ofType(events, 'result')).toEqual([{ type: 'result', round, siteId: 'site-a', accepted: false, code: 'malformed_payload', reason }]);
    // A masked input out of its phase is refused as stale by the secure round, and still audited.
    const masked = new Uint8Array(8);
    peers[1].send('secaggMasked', { runId: RUN, round, attempt: fit.attempt ?? 1, siteId: 'site-b', masked });
    const stale = await peers[1].next('rejected');
    expect(stale).toMatchObject({ code: 'stale_round', round, reason: expect.stringMatching(/^secaggMasked from site-b arrived in phase /) });
    expect(ofType(events, 'update-received').filter((e) => e.message === 'secaggMasked')).toEqual([{ type: 'update-received', round, siteId: 'site-b', message: 'secaggMasked', sha256: sha256(masked), bytes: 8 }]);
    expect(ofType(events, 'result').at(-1)).toEqual({ type: 'result', round, siteId: 'site-b', accepted: false, code: 'stale_round', reason: stale.reason });
    // An advertisement claiming more examples than the hello announced: refused with its own code.
    const key = new Uint8Array(32).fill(1);
    peers[2].send('secaggAdvertise', { runId: RUN, round, attempt: fit.attempt ?? 1, siteId: 'site-c', encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples: 1000, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const count = await peers[2].next('rejected');
    expect(count).toMatchObject({ code: 'invalid_count', round });
    expect(ofType(events, 'result').at(-1)).toEqual({ type: 'result', round, siteId: 'site-c', accepted: false, code: 'invalid_count', reason: count.reason });
  });

  it("records each refused message against its site in the round; a site refused for anything but staleness is out of the attempt", async () => {
    const { coordinator, network } = await start({ minSites: 3, secureAggregation: { clip: 1 }, federatedEvaluation: 'never' });
    const peers = await Promise.all(['site-a', 'site-b', 'site-c'].map((id) => peer(network, id)));
    const [fit] = await Promise.all(peers.map((p) => p.next('fit')));
    const round = fit.round as number;
    const attempt = (fit.attempt ?? 1) as number;
    const [a, b, c] = peers;
    const key = new Uint8Array(32).fill(1);
    const advertise = (siteId: string, numExamples: number) => ({ runId: RUN, round, attempt, siteId, encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    a.send('fitResult', fitResult('site-a', round, new Uint8Array(8)));
    expect((await a.next('rejected')).code).toBe('malformed_payload');
    // Out of phase (stale): site-b stays in the attempt, so its next message is judged on its own.
    b.send('secaggMasked', { runId: RUN, round, attempt, siteId: 'site-b', masked: new Uint8Array(8) });
    const stale = await b.next('rejected');
    expect(stale.code).toBe('stale_round');
    b.send('secaggAdvertise', advertise('site-b', 1000));
    const bCount = await b.next('rejected');
    expect(bCount).toMatchObject({ code: 'invalid_count', round });
    // Refused for its count: site-c is out of the attempt, whatever it sends next.
    c.send('secaggAdvertise', advertise('site-c', 1000));
    const cCount = await c.next('rejected');
    expect(cCount).toMatchObject({ code: 'invalid_count', round });
    c.send('secaggAdvertise', advertise('site-c', 40));
    expect(await c.next('rejected')).toEqual({ runId: RUN, code: 'not_selected', reason: 'site-c is out of this secure-aggregation attempt', round });
    expect(contextOf(coordinator).collector!.rejected).toEqual([
      { siteId: 'site-a', code: 'malformed_payload', reason: 'this run uses secure aggregation: plain updates are refused' },
      { siteId: 'site-b', code: 'stale_round', reason: stale.reason },
      { siteId: 'site-b', code: 'invalid_count', reason: bCount.reason },
      { siteId: 'site-c', code: 'invalid_count', reason: cCount.reason },
      { siteId: 'site-c', code: 'not_selected', reason: 'site-c is out of this secure-aggregation attempt' },
    ]);
  });

  it("refuses as malformed anything untyped the secure round throws, and drops the site; a stale message's site is kept", async () => {
    const { coordinator, network, events } = await start();
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    const ctx = contextOf(coordinator);
    const dropped: string[] = [];
    let thrown: unknown = new RangeError('Offset is outside the bounds of the DataView');
    // A stand-in for the attempt in progress: what its receive throws is all that matters here.
    ctx.secureRound = { receive: () => { throw thrown; }, drop: (siteId: string) => void dropped.push(siteId) } as never;
    try {
      a.send('secaggShareKeys', { runId: RUN, round: 1, attempt: 1, siteId: 'site-a', shares: [] });
      const reason = 'Offset is outside the bounds of the DataView';
      expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'malformed_payload', reason, round: 1 });
      expect(ofType(events, 'result')).toEqual([{ type: 'result', round: 0, siteId: 'site-a', accepted: false, code: 'malformed_payload', reason }]);
      expect(dropped).toEqual(['site-a']);
      thrown = new FedtuneError('stale_round', 'from another attempt');
      a.send('secaggShareKeys', { runId: RUN, round: 1, attempt: 1, siteId: 'site-a', shares: [] });
      expect(await a.next('rejected')).toEqual({ runId: RUN, code: 'stale_round', reason: 'from another attempt', round: 1 });
      expect(dropped).toEqual(['site-a']);
    } finally {
      ctx.secureRound = undefined;
    }
  });
});

describe('a site that reconnects or leaves mid-round', () => {
  it('is recorded failed with why, and the round goes on with the others', async () => {
    // Tokens stand in for a site that proves its name: a new connection takes it from the live one.
    const { coordinator, network, events } = await start({ minSites: 3, quorum: 0.3, federatedEvaluation: 'never' }, { authorize: () => ({ ok: true, authenticated: true }) } as never);
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const c = await peer(network, 'site-c');
    const [, fb] = await Promise.all([a.next('fit'), b.next('fit'), c.next('fit')]);
    const round = fb.round as number;
    const a2 = await peer(network, 'site-a');
    await a2.next('welcome');
    await a.closed;
    c.link.close();
    await until(() => ofType(events, 'site-left').some((e) => e.siteId === 'site-c'), 'site-c left');
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    const r = report.rounds[0];
    expect(r.accepted.map((u) => u.siteId)).toEqual(['site-b']);
    expect(r.failed).toEqual([
      { siteId: 'site-a', reason: 'reconnected during the round' },
      { siteId: 'site-c', reason: 'disconnected: closed by peer' },
    ]);
    expect(ofType(events, 'site-left').find((e) => e.siteId === 'site-c')).toEqual({ type: 'site-left', siteId: 'site-c', reason: 'closed by peer' });
  });
});
