import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights } from '@fedtune/shared';
import { closeAll, fitResult, ofType, peer, RUN, start, until } from './site-routing-helpers.ts';

/**
 * Membership (site-membership.ts) over the in-memory transport: the terms' answer deadline, the bounded list of
 * refusals, the wait for sites between rounds, the terms' training settings, and the update guard's verdicts as
 * the router reports them (held until the round's norm bound is known; examples counted up to the cap).
 */

afterEach(closeAll);

describe('the terms', () => {
  it('a site that does not answer them within the hello timeout is refused with a timeout and cut', async () => {
    const { coordinator, network } = await start({}, { connectionLimits: { helloTimeoutMs: 150 } } as never);
    const p = await peer(network, 'site-p', { accept: false });
    await p.next('terms');
    expect(await p.next('rejected')).toEqual({ runId: RUN, code: 'timeout', reason: "no answer to the run's terms within 150 ms" });
    await p.closed;
    expect(coordinator.engine.sites.size).toBe(0);
  });

  it('refusals are all counted, the first 100 listed', async () => {
    const { coordinator, network } = await start();
    for (let i = 0; i < 101; i++) {
      const p = await peer(network, `site-${i}`, { accept: false });
      await p.next('terms');
      p.send('refuseTerms', { runId: RUN, siteId: `site-${i}`, code: 'policy', reason: `no ${i}` });
      await p.closed;
    }
    const refusals = coordinator.engine.report.termsRefusals!;
    expect(refusals.total).toBe(101);
    expect(refusals.sites).toHaveLength(100);
    expect(refusals.sites[99].siteId).toBe('site-99');
  });

  it("carry the strategy's training settings (FedProx's μ)", async () => {
    const { network } = await start({ strategy: 'fedprox', strategyOptions: { proximalMu: 0.25 } });
    const p = await peer(network, 'site-a', { accept: false });
    const t = (await p.next('terms')) as { terms: { train: { proximalMu?: number } } };
    expect(t.terms.train.proximalMu).toBe(0.25);
  });

  it("with fedbn, keep each site's BatchNorm local; without, say nothing of it", async () => {
    const withBn = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.batchNormalization(), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    const { network } = await start({ personalization: { mode: 'fedbn' } }, { model: withBn } as never);
    const p = await peer(network, 'site-a', { accept: false });
    const t = (await p.next('terms')) as { terms: { train: { localBatchNorm?: boolean } } };
    expect(t.terms.train.localBatchNorm).toBe(true);
    const { network: plain } = await start();
    const q = await peer(plain, 'site-a', { accept: false });
    const u = (await q.next('terms')) as { terms: { train: { localBatchNorm?: boolean } } };
    expect(u.terms.train.localBatchNorm).toBeUndefined();
  });
});

describe('a connection refused too often', () => {
  it('is cut and reported once, naming the site it joined as', async () => {
    const { network, events } = await start({}, { connectionLimits: { maxRefusals: 2 } } as never);
    const a = await peer(network, 'site-a');
    await until(() => ofType(events, 'site-joined').length === 1, 'joined');
    for (let i = 0; i < 3; i++) a.send('heartbeat', { siteId: 'site-b', status: 'idle' });
    await a.closed;
    expect(ofType(events, 'connection-refused')).toEqual([{ type: 'connection-refused', connection: expect.any(String), siteId: 'site-a', refusals: 3, reason: expect.stringMatching(/^more than 2 messages refused within \d+ ms: connection closed$/) }]);
  });
});

describe('between rounds', () => {
  it('with fewer sites than minSites, the next round waits rejoinGraceMs and goes on with who is there', async () => {
    const { coordinator, network, events } = await start({ rounds: 2, quorum: 0.5, rejoinGraceMs: 300, federatedEvaluation: 'never' });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const [fa] = await Promise.all([a.next('fit'), b.next('fit')]);
    a.send('fitResult', fitResult('site-a', fa.round as number, fa.weights as Uint8Array));
    b.link.close();
    const f2 = await a.next('fit');
    const waitedFrom = ofType(events, 'site-left')[0];
    expect(waitedFrom).toEqual({ type: 'site-left', siteId: 'site-b', reason: 'closed by peer' });
    a.send('fitResult', fitResult('site-a', f2.round as number, f2.weights as Uint8Array));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds.map((r) => r.selected)).toEqual([['site-a', 'site-b'], ['site-a']]);
    expect(report.rounds[0].failed).toEqual([{ siteId: 'site-b', reason: 'disconnected: closed by peer' }]);
    expect(ofType(events, 'waiting').at(-1)).toEqual({ type: 'waiting', joined: 1, needed: 2 });
    const ends = events.findIndex((e) => e.type === 'round-end');
    const starts = events.findIndex((e, i) => i > ends && e.type === 'round-start');
    expect(events.slice(ends, starts).some((e) => e.type === 'waiting')).toBe(true);
  });
});

describe('between rounds, with no site left', () => {
  it('the grace needs a site: the next round waits for one (joinTimeoutMs), then goes on with whoever came', async () => {
    const { coordinator, network, events } = await start({ rounds: 2, quorum: 0.5, rejoinGraceMs: 0, federatedEvaluation: 'never' });
    const a = await peer(network, 'site-a');
    const b = await peer(network, 'site-b');
    const [fa] = await Promise.all([a.next('fit'), b.next('fit')]);
    a.send('fitResult', fitResult('site-a', fa.round as number, fa.weights as Uint8Array));
    a.link.close();
    b.link.close();
    await until(() => ofType(events, 'round-end').length === 1, 'round 1 ended');
    await until(() => ofType(events, 'waiting').some((e) => e.joined === 0 && events.indexOf(e) > events.findIndex((x) => x.type === 'round-end')), 'waiting with none joined');
    // Nobody is there: no round starts however long it waits (a grace of 0 is no wait only with a site to go on with).
    await new Promise((r) => setTimeout(r, 150));
    expect(ofType(events, 'round-start')).toHaveLength(1);
    const c = await peer(network, 'site-c');
    const fc = await c.next('fit');
    c.send('fitResult', fitResult('site-c', fc.round as number, fc.weights as Uint8Array));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds.map((r) => r.selected)).toEqual([['site-a', 'site-b'], ['site-c']]);
    expect(report.rounds.map((r) => r.accepted.map((u) => u.siteId))).toEqual([['site-a'], ['site-c']]);
  });
});

describe("the update guard's verdicts, as reported", () => {
  it('an update not certain to be kept is held, then accepted at the close; examples count up to the cap', async () => {
    const { coordinator, network, events } = await start({ minSites: 3, quorum: 0.3, federatedEvaluation: 'never' });
    const a = await peer(network, 'site-a', { numExamples: 10 });
    const b = await peer(network, 'site-b', { numExamples: 10 });
    const c = await peer(network, 'site-c', { numExamples: 1000 });
    const [fa, fb, fc] = await Promise.all([a.next('fit'), b.next('fit'), c.next('fit')]);
    const round = fa.round as number;
    const sent = decodeWeights(fa.weights as Uint8Array);
    sent.arrays[0][0] += 0.5;
    a.send('fitResult', fitResult('site-a', round, encodeWeights(sent), 10));
    await until(() => ofType(events, 'result-held').length === 1, 'held');
    expect(ofType(events, 'result-held')).toEqual([{ type: 'result-held', round, siteId: 'site-a', reason: 'held until the round closes and its adaptive norm bound is known' }]);
    expect(ofType(events, 'result')).toEqual([]);
    b.send('fitResult', fitResult('site-b', round, fb.weights as Uint8Array, 10));
    c.send('fitResult', fitResult('site-c', round, fc.weights as Uint8Array, 1000));
    const report = await coordinator.done;
    expect(report.status, report.aborted).toBe('complete');
    const accepted = report.rounds[0].accepted;
    expect(accepted.map((u) => u.siteId)).toEqual(['site-a', 'site-b', 'site-c']);
    // The cap: 4 × the median announced count (10).
    expect(accepted.find((u) => u.siteId === 'site-c')).toMatchObject({ numExamples: 1000, effectiveExamples: 40 });
    expect(accepted.find((u) => u.siteId === 'site-b')).not.toHaveProperty('effectiveExamples');
    const results = ofType(events, 'result');
    expect(results.map((r) => [r.siteId, r.accepted])).toEqual([
      ['site-b', true],
      ['site-c', true],
      ['site-a', true],
    ]);
  });
});
