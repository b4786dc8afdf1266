import { describe, expect, it } from 'vitest';
import { encodeWeights, PROTOCOL_VERSION, type SiteEvent, type WeightArrays } from '@fedtune/shared';
import { startTestFederation } from './helpers/federation.ts';

const nanHook = (w: WeightArrays) => w.map((a, i) => (i === 0 ? a.map((v, j) => (j === 5 ? NaN : v)) : a));

describe('round engine: bad updates are rejected with a reason and the round goes on', () => {
  it('rejects a NaN update, records a site’s own failure, aggregates the honest sites, and tells the bad sites why', async () => {
    const siteEvents: Record<string, SiteEvent[]> = {};
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 4,
      rounds: 2,
      transport: 'memory',
      maxSiteExamples: 200,
      config: { quorum: 0.5 },
      hooks: {
        'site-2': nanHook,
        'site-4': (w) => w.map((a, i) => (i === 1 ? a.slice(0, a.length - 1) : a)),
      },
      onSiteEvent: (id, e) => (siteEvents[id] ??= []).push(e),
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status).toBe('complete');
    for (const r of report.rounds) {
      expect(r.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-3']);
      expect(r.rejected).toEqual([{ siteId: 'site-2', code: 'non_finite', reason: expect.stringMatching(/non-finite value \(NaN\) in hidden\/kernel/) }]);
      // site-4's hook breaks its own encoding: the site reports the failure instead of sending garbage.
      expect(r.failed).toEqual([{ siteId: 'site-4', reason: expect.stringMatching(/^shape_mismatch: /) }]);
    }
    expect(Number.isFinite(report.final!.accuracy)).toBe(true);
    expect(siteEvents['site-2'].some((e) => e.type === 'rejected' && e.code === 'non_finite')).toBe(true);
  });

  it('aborts with a recorded reason when the quorum cannot be met, and never aggregates garbage', async () => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 100,
      config: { quorum: 1, maxRoundAttempts: 2 },
      hooks: { 'site-1': nanHook },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status).toBe('aborted');
    expect(report.aborted).toMatch(/quorum not met: 1 of 2 results accepted, 2 needed/);
    expect(report.rounds).toHaveLength(0);
  });

  it('rejects stale, unselected, duplicate, impersonating and malformed results from raw connections', async () => {
    const { coordinator, connector, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'socket',
      maxSiteExamples: 100,
      config: { minSites: 4, fraction: 1, roundTimeoutMs: 20_000, federatedEvaluation: 'never' },
    });
    // Two hand-driven sites join so the run starts. One answers the fit only with bad results (a refused
    // message is its answer for the round); the other with a good result, then the same again.
    const join = (siteId: string, answer: (send: (payload: unknown, unchecked?: boolean) => void, fit: { runId: string; round: number; weights: Uint8Array }) => void) => {
      const rejections: Array<{ code: string; reason: string }> = [];
      const done = connector()
        .connect()
        .then(
          (raw) =>
            new Promise<void>((resolve) => {
              raw.onMessage((m) => {
                if (m.event === 'terms') raw.send('acceptTerms', { runId: m.payload.terms.runId, siteId, hash: m.payload.hash });
                if (m.event === 'rejected') rejections.push({ code: m.payload.code, reason: m.payload.reason });
                if (m.event === 'fit') answer((payload, unchecked) => (unchecked ? raw.sendUnchecked('fitResult', payload) : raw.send('fitResult', payload as never)), { ...m.payload, weights: m.payload.weights! });
                if (m.event === 'complete') resolve();
              });
              raw.send('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'none', runtime: 'node', numExamples: 10 } });
            }),
        );
      return { rejections, done };
    };
    const good = (siteId: string, fit: { runId: string; round: number; weights: Uint8Array }) => ({ runId: fit.runId, round: fit.round, siteId, weights: fit.weights, numExamples: 10, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const bad = join('site-raw-bad', (send, fit) => {
      const g = good('site-raw-bad', fit);
      send({ ...g, round: fit.round + 5 });
      send({ ...g, siteId: 'site-1' });
      send({ ...g, numExamples: -3 });
      send({ ...g, numExamples: 10_000_000 });
      send({ ...g, weights: 'AAAA' }, true);
      send({ ...g, weights: encodeWeights({ manifest: [{ name: 'x', shape: [1], dtype: 'float32' }], arrays: [new Float32Array(1)] }) });
    });
    const twice = join('site-raw-good', (send, fit) => {
      send(good('site-raw-good', fit));
      send(good('site-raw-good', fit));
    });
    const report = await coordinator.done;
    await Promise.all([...siteRuns, bad.done, twice.done]);
    await coordinator.close();
    expect(report.status).toBe('complete');
    const round = report.rounds[0];
    expect(round.accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-raw-good']);
    const codesOf = (id: string) => round.rejected.filter((r) => r.siteId === id).map((r) => r.code);
    expect(codesOf('site-raw-bad')).toEqual(['stale_round', 'unauthorized', 'invalid_count', 'invalid_count', 'malformed_payload', 'shape_mismatch']);
    expect(codesOf('site-raw-good')).toEqual(['duplicate_result']);
    expect(bad.rejections.map((r) => r.code)).toEqual(codesOf('site-raw-bad'));
    expect(twice.rejections.map((r) => r.code)).toEqual(['duplicate_result']);
    expect([...bad.rejections, ...twice.rejections].every((r) => r.reason.length > 10)).toBe(true);
  });
});
