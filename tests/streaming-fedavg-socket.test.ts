import { describe, expect, it } from 'vitest';
import { StreamingFedAvg, type WeightArrays } from '@fedtune/shared';
import { startTestFederation } from './helpers/federation.ts';

// The blocked streaming sum in a real federation: 20 sites over socket.io (more than one fold block of 16),
// two rounds (the aggregator's sum is reset and reused between them). The global model each site receives
// in round 2 must be, bit for bit, the JS oracle's exact mean of the round-1 updates the coordinator
// accepted — whatever order they arrived in over the network.

function bits(ws: WeightArrays): string {
  return ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')).join('|');
}

describe('streaming FedAvg over socket.io, 20 sites', () => {
  it('round 2’s global model is the exact mean of round 1’s accepted updates (JS oracle), the same for every site', async () => {
    const sent = new Map<string, WeightArrays>();
    const globals = new Map<string, string>();
    const record = (weights: WeightArrays, context: { round: number; global: WeightArrays; siteId: string }) => {
      if (context.round === 1) sent.set(context.siteId, weights.map((w) => w.slice()));
      if (context.round === 2) globals.set(context.siteId, bits(context.global));
      return weights;
    };
    const hooks = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`site-${i + 1}`, record]));
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 20,
      rounds: 2,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { strategy: 'fedavg' },
      hooks,
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    const accepted = report.rounds[0].accepted;
    expect(accepted.length).toBe(20);
    const oracle = new StreamingFedAvg(sent.get(accepted[0].siteId)!.map((w) => w.length), { kernel: 'js' });
    for (const a of accepted) oracle.add(sent.get(a.siteId)!, a.numExamples);
    expect(globals.size).toBe(20);
    expect(new Set(globals.values())).toEqual(new Set([bits(oracle.result())]));
  }, 240_000);
});
