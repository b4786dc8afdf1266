import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir, runConfigDefaults } from '@fedtune/coordinator';
import { readModelWeights, type RunReport, type TrainConfig } from '@fedtune/shared';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

type Adversarial = NonNullable<TrainConfig['adversarial']>;

/** One round of a 20-site federation over real socket.io training adversarially with `adversarial`; the round's model. */
async function federation(adversarial: Adversarial): Promise<{ report: RunReport; model: Float32Array[] }> {
  const runsDir = tempDir('fedtune-adv-socket-');
  const { coordinator, siteRuns } = await startTestFederation({ sites: 20, rounds: 1, seed: 5, transport: 'socket', runsDir, maxSiteExamples: 16, config: { train: { ...runConfigDefaults().train, adversarial }, federatedEvaluation: 'never' } });
  const report = await coordinator.done;
  await Promise.all(siteRuns);
  await coordinator.close();
  return { report, model: readModelWeights(await loadModelDir(join(coordinator.runDir, report.rounds[0].modelDir))).arrays };
}

const differ = (a: Float32Array[], b: Float32Array[]) => a.some((w, i) => w.some((v, j) => v !== b[i][j]));

describe('AWP and the attack loss reach the sites over real socket.io (20 sites)', () => {
  it('each changes the federation\'s model; the same settings twice give the same bits', async () => {
    const base: Adversarial = { method: 'pgd', share: 1, eps: 0.1, steps: 2 };
    const plain = await federation(base);
    const again = await federation(base);
    const awp = await federation({ ...base, awp: 0.02 });
    const mixed = await federation({ ...base, attackLoss: 'mixed' });
    for (const r of [plain, again, awp, mixed]) {
      expect(r.report.status, r.report.aborted).toBe('complete');
      expect(r.report.rounds[0].accepted).toHaveLength(20);
    }
    expect(differ(plain.model, again.model)).toBe(false);
    expect(differ(plain.model, awp.model)).toBe(true);
    expect(differ(plain.model, mixed.model)).toBe(true);
    expect((awp.report.config as { train: TrainConfig }).train.adversarial).toMatchObject({ awp: 0.02 });
    expect((mixed.report.config as { train: TrainConfig }).train.adversarial).toMatchObject({ attackLoss: 'mixed' });
  }, 240_000);
});
