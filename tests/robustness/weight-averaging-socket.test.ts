import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir } from '@fedtune/coordinator';
import { readModelWeights, type RunReport } from '@fedtune/shared';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

/** A 20-site federation over real socket.io, 3 rounds; every round's saved model. */
async function federation(averageRounds: number): Promise<{ report: RunReport; models: Float32Array[][] }> {
  const runsDir = tempDir('fedtune-avg-socket-');
  const { coordinator, siteRuns } = await startTestFederation({ sites: 20, rounds: 3, seed: 11, transport: 'socket', runsDir, maxSiteExamples: 24, config: { averageRounds, federatedEvaluation: 'final' } });
  const report = await coordinator.done;
  await Promise.all(siteRuns);
  await coordinator.close();
  const models = await Promise.all(report.rounds.map(async (r) => readModelWeights(await loadModelDir(join(coordinator.runDir, r.modelDir))).arrays));
  return { report, models };
}

describe('--average-rounds over real socket.io with 20 sites', () => {
  it('the final model is the mean of the last 2 rounds\' models of the same federation without it; the sites evaluate that mean', async () => {
    const plain = await federation(1);
    const averaged = await federation(2);
    for (const r of [plain.report, averaged.report]) {
      expect(r.status, r.aborted).toBe('complete');
      expect(r.rounds.every((x) => x.accepted.length === 20)).toBe(true);
    }
    // The streaming sum is order-independent: the rounds before the last are the same bits whatever the arrival order.
    for (const r of [0, 1]) averaged.models[r].forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(plain.models[r][i])));
    averaged.models[2].forEach((w, i) => {
      const [b, c] = [plain.models[1][i], plain.models[2][i]];
      for (let j = 0; j < w.length; j++) expect(w[j]).toBe(Math.fround((b[j] + c[j]) / 2));
    });
    expect(averaged.report.rounds[2].averagedRounds).toBe(2);
    // Federated evaluation ran on the averaged model: every site's loss differs from the plain run's final evaluation.
    const loss = (r: RunReport) => new Map(r.rounds[2].federated!.sites.map((s) => [s.siteId, s.loss]));
    const [p, a] = [loss(plain.report), loss(averaged.report)];
    expect(a.size).toBe(20);
    for (const [site, l] of a) expect(l, site).not.toBe(p.get(site));
  }, 240_000);
});
