import { describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights, type RunReport, type WeightArrays } from '@fedtune/shared';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite, type Attacker } from '../hostile/helpers.ts';

/**
 * Fast peers against --wait-after-quorum (a hostile-peer audit of the stragglers feature, 2026-12-06), over real
 * socket.io. Peers that answer every instruction at once decide when a round reaches its quorum. Before:
 * - the honest sites the 1 ms wait then cut off counted as missing the round and sat out cooldowns: the peers'
 *   updates were the only ones in every round, and the final federated evaluation asked only them;
 * - updates held for the norm bound counted toward the quorum, so two huge ones closed a round whose close then
 *   refused them as outliers, and with the honest sites cooling the round's retries failed too: the run aborted.
 * Now the sites a quorum wait cuts off are not cooled (only busy with that fit until they answer, even late), and
 * only updates the norm bound would keep (on the norms so far) start the wait. What stays true of any early close: the fastest sites form the round (docs/operations.md).
 */

/** The weights with `delta` added to their first value. */
function shifted(bytes: unknown, delta: number): Uint8Array {
  const decoded = decodeWeights(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes as ArrayBuffer));
  const arrays = decoded.arrays.map((a, i) => {
    const b = Float32Array.from(a as Float32Array);
    if (i === 0) b[0] += delta;
    return b;
  }) as WeightArrays;
  return encodeWeights({ manifest: decoded.manifest, arrays });
}

interface Fit {
  runId: string;
  round: number;
  weights: unknown;
}

async function federation(runId: string, rounds: number, sybils: string[], answer: (k: number, fit: Fit) => Uint8Array | undefined, extra: Record<string, unknown> = {}): Promise<RunReport> {
  const honestIds = ['site-a', 'site-b', 'site-c'].slice(0, sybils.length);
  const coordinator = await startTinyCoordinator({ runId, minSites: 2 * sybils.length, rounds, config: { runId, quorum: 0.5, stragglers: { waitAfterQuorumMs: 1 }, ...extra } });
  const evil: Attacker[] = [];
  try {
    for (const [k, id] of sybils.entries()) {
      const peer = await attacker(coordinator.url!);
      peer.hello(id);
      await peer.next('welcome');
      peer.socket.on('fit', (fit: Fit) => {
        const weights = answer(k, fit);
        if (weights) peer.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: id, weights, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
      });
      peer.socket.on('evaluate', (ev: { runId: string; round: number }) => peer.socket.emit('evaluateResult', { runId: ev.runId, round: ev.round, siteId: id, metrics: { loss: 0.01, accuracy: 1 }, numExamples: 40 }));
      evil.push(peer);
    }
    const honest = await Promise.all(honestIds.map((id, i) => honestSite(coordinator.url!, id, { seed: i + 3 })));
    const report = await coordinator.done;
    for (const h of honest) expect((await h.run).completed).toBe(true);
    return report;
  } finally {
    for (const peer of evil) peer.socket.close();
    await coordinator.close();
  }
}

describe('fast peers and --wait-after-quorum (real socket.io)', () => {
  it('peers that echo the model at once never get the honest sites cooled out of training or the final evaluation', { timeout: 120_000 }, async () => {
    const report = await federation('fast-echo', 5, ['sybil-1', 'sybil-2'], (_k, fit) => fit.weights as Uint8Array, { federatedEvaluation: 'final' });
    expect(report.status).toBe('complete');
    for (const r of report.rounds) {
      // An honest site the 1 ms wait cut off is busy with that fit until its late answer comes: it sits out only
      // the rounds that start meanwhile (sending it another fit would only queue behind the first), never a cooldown.
      expect([...r.selected, ...(r.busy?.sites ?? [])].sort()).toEqual(['site-a', 'site-b', 'sybil-1', 'sybil-2']);
      for (const id of r.busy?.sites ?? []) expect(id).toMatch(/^site-/);
      expect(r.cooling).toBeUndefined();
    }
    // And not for ever: each honest site is asked again after its late answer.
    for (const id of ['site-a', 'site-b']) expect(report.rounds.filter((r) => r.selected.includes(id)).length).toBeGreaterThanOrEqual(2);
    expect(report.rounds.at(-1)!.federated!.sites.map((s) => s.siteId).sort()).toEqual(['site-a', 'site-b', 'sybil-1', 'sybil-2']);
  });

  it.each([1, 3_000])('half the sites sending tiny norms, then huge ones, do not abort the run (wait %i ms); with a wait the honest sites make, the huge updates are refused', { timeout: 120_000 }, async (waitMs) => {
    const report = await federation(`held-quorum-${waitMs}`, 3, ['sybil-1', 'sybil-2', 'sybil-3'], (k, fit) => {
      // Round 1: three tiny positive norms; then two huge updates (held: above the stream bound), the third silent.
      if (fit.round === 1) return shifted(fit.weights, 1e-3 * (k + 1));
      return k === 2 ? undefined : shifted(fit.weights, 10);
    }, { stragglers: { waitAfterQuorumMs: waitMs } });
    expect(report.status, report.aborted).toBe('complete');
    for (const r of report.rounds) {
      // The honest sites are asked in every round they are not still training an earlier fit; only the peer silent
      // until the deadline may sit one out.
      expect([...r.selected, ...(r.busy?.sites ?? [])]).toEqual(expect.arrayContaining(['site-a', 'site-b', 'site-c']));
      for (const id of r.cooling?.sites ?? []) expect(id).toBe('sybil-3');
    }
    if (waitMs > 1) {
      // A wait the honest sites' training fits in: they are in every round's close, so the median is theirs.
      for (const r of report.rounds.slice(1)) {
        expect(r.accepted.map((a) => a.siteId)).toEqual(expect.arrayContaining(['site-a', 'site-b', 'site-c']));
        expect(r.accepted.map((a) => a.siteId)).not.toContain('sybil-1');
      }
    }
  });
});
