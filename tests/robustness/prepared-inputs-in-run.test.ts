import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir } from '@fedtune/coordinator';
import { evaluateRobustness, type RobustnessOptions } from '@fedtune/shared';
import { builtinDigits } from '@fedtune/shared/node';
import { head, startTestFederation } from '../helpers/federation.ts';

const robustness: RobustnessOptions = { examples: 80, adversarialExamples: 12, pgdSteps: 2, noise: [0.2, 0.4], corruptions: ['shot_noise', 'rotate', 'fog'], fgsm: [0.1], pgd: [0.1], seed: 4 };

describe('a run whose robustness inputs were prepared at its first round (socket.io, 20 sites)', () => {
  it('reports for the final model exactly what an evaluation of that model makes from scratch', async () => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 20,
      rounds: 2,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { federatedEvaluation: 'never', robustness: { when: 'final', ...robustness } as never },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.rounds).toHaveLength(2);
    expect(report.rounds.map((r) => r.accepted.length)).toEqual([20, 20]);
    const final = report.finalRobustness!;
    const model = await loadModelDir(join(coordinator.runDir, report.rounds[1]!.modelDir!));
    const fresh = await evaluateRobustness(model, head(builtinDigits().holdout, 100), robustness);
    const parts = (r: typeof final) => ({ clean: r.clean, noise: r.noise, corruptions: r.corruptions, fgsm: r.fgsm, pgd: r.pgd, adversarialCleanAccuracy: r.adversarialCleanAccuracy });
    expect(parts(final)).toEqual(parts(fresh));
    expect(final.noise.map((n) => n.sigma)).toEqual([0.2, 0.4]);
    expect(final.corruptions.map((c) => c.name)).toEqual(['shot_noise', 'rotate', 'fog']);
    model.dispose();
  }, 240_000);
});
