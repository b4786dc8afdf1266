import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateDp } from '@fedtune/coordinator';
import { computeEpsilon, FedtuneError, SeededRandom } from '@fedtune/shared';
import { startTestFederation } from './helpers/federation.ts';

describe('client-level differential privacy (DP-FedAvg + RDP accountant)', () => {
  it('clips each delta to C and divides by the number selected; one huge update moves the model by at most C/m', () => {
    const global = [new Float32Array([0, 0, 0])];
    const honest = [new Float32Array([0.1, 0, 0])];
    const huge = [new Float32Array([1000, 0, 0])];
    const r = aggregateDp(global, [honest, huge], 2, 1, { noiseMultiplier: 0, clip: 1, delta: 1e-5 }, new SeededRandom(1));
    // (0.1 + clip(1000 → 1)) / 2
    expect(r.weights[0][0]).toBeCloseTo(0.55, 6);
    expect(r.clippedShare).toBe(0.5);
  });

  it('adds noise of standard deviation z·C/m per coordinate', () => {
    const n = 20_000;
    const global = [new Float32Array(n)];
    const r = aggregateDp(global, [[new Float32Array(n)]], 4, 2, { noiseMultiplier: 1.5, clip: 2, delta: 1e-5 }, new SeededRandom(3));
    const std = Math.sqrt(r.weights[0].reduce((s, v) => s + v * v, 0) / n);
    expect(std).toBeGreaterThan(0.75 * 0.95);
    expect(std).toBeLessThan(0.75 * 1.05);
  });

  it('a run reports ε after every round, equal to the accountant for the same q, z and steps, and stamps it on the model', async () => {
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 4,
      rounds: 2,
      transport: 'memory',
      maxSiteExamples: 100,
      config: { fraction: 0.5, quorum: 0.5, dp: { noiseMultiplier: 1.1, clip: 0.5, delta: 1e-5 }, federatedEvaluation: 'never' },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status).toBe('complete');
    for (const [i, r] of report.rounds.entries()) {
      expect(r.privacy!.samplingRate).toBe(0.5);
      const expected = computeEpsilon({ samplingRate: 0.5, noiseMultiplier: 1.1, steps: i + 1, delta: 1e-5 }).epsilon;
      expect(r.privacy!.epsilon).toBeCloseTo(expected, 8);
    }
    expect(report.rounds[1].privacy!.epsilon).toBeGreaterThan(report.rounds[0].privacy!.epsilon);
    const modelJson = JSON.parse(readFileSync(join(coordinator.runDir, report.final!.modelDir, 'model.json'), 'utf8'));
    expect(modelJson.userDefinedMetadata.privacy.epsilon).toBeCloseTo(report.privacy!.epsilon, 8);
  });

  it('refuses to combine DP with a strategy other than FedAvg', async () => {
    await expect(
      startTestFederation({ sites: 2, rounds: 1, transport: 'memory', config: { strategy: 'median', dp: { noiseMultiplier: 1, clip: 1, delta: 1e-5 } } }),
    ).rejects.toThrow(FedtuneError);
  });
});
