import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir } from '@fedtune/coordinator';
import { concatDatasets, deriveSeed, fitTemperature, modelLogits, PROTOCOL_VERSION, RunReport, siteName, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites } from '@fedtune/shared/node';
import { head, startTestFederation } from '../helpers/federation.ts';

const QUICK = { when: 'final', examples: 100, adversarialExamples: 0, noise: false, corruptions: false, fgsm: false, pgd: false } as const;

async function run(sites: number, config: Record<string, unknown>, seed = 7) {
  const { coordinator, siteRuns } = await startTestFederation({ sites, rounds: 1, seed, transport: 'memory', maxSiteExamples: 200, holdoutExamples: 300, config: { federatedEvaluation: 'never', ...config } });
  const report = await coordinator.done;
  await Promise.all(siteRuns);
  await coordinator.close();
  expect(RunReport.safeParse(JSON.parse(readFileSync(join(coordinator.runDir, 'report.json'), 'utf8'))).success).toBe(true);
  const modelDir = join(coordinator.runDir, report.final!.modelDir);
  const metadata = (JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as { userDefinedMetadata?: Record<string, unknown> }).userDefinedMetadata ?? {};
  return { report, modelDir, metadata };
}

describe('temperature scaling inside a run (config calibration.source)', () => {
  it('federated: fits on the sites\' validation splits — equal to the centralized fit on their union — and saves T in model.json', async () => {
    const { report, modelDir, metadata } = await run(3, { calibration: { source: 'federated' }, robustness: QUICK });
    const c = report.finalRobustness!.calibration!;
    expect(c.source).toBe('federated');
    // The same splits the sites hold (tests/helpers/federation.ts).
    const validation = concatDatasets(
      builtinDigitsSites({ sites: 3, partition: { kind: 'dirichlet', alpha: 1 }, seed: 7 }).map((full, k) => splitDataset(head(full, 200), deriveSeed(7, 'split', siteName(k))).validation),
    );
    expect(c.fittedOn).toBe(validation.y.length);
    const model = await loadModelDir(modelDir);
    try {
      expect(Math.abs(c.temperature - fitTemperature(modelLogits(model, validation), validation.y))).toBeLessThan(1e-6);
    } finally {
      model.dispose();
    }
    expect(metadata.calibration).toEqual({ temperature: c.temperature, source: 'federated', fittedOn: c.fittedOn });
    // The calibration queries' downloads are counted.
    expect(report.rounds[0].bytesDown).toBeGreaterThan(0);
  });

  it('a site sending hostile calibration sums is refused with malformed_payload; the fit uses the honest sites only', async () => {
    const fed = await startTestFederation({ sites: 2, rounds: 1, seed: 7, transport: 'memory', maxSiteExamples: 200, holdoutExamples: 300, config: { minSites: 3, federatedEvaluation: 'never', calibration: { source: 'federated' }, robustness: QUICK } });
    const raw = await fed.connector().connect();
    const rejections: string[] = [];
    const done = new Promise<void>((resolve) => {
      raw.onMessage((m) => {
        if (m.event === 'terms') raw.send('acceptTerms', { runId: m.payload.terms.runId, siteId: 'site-raw', hash: m.payload.hash });
        if (m.event === 'rejected') rejections.push(m.payload.code);
        if (m.event === 'fit') raw.send('siteFailure', { runId: m.payload.runId, round: m.payload.round, siteId: 'site-raw', code: 'data', reason: 'no fit' });
        if (m.event === 'evaluate') {
          const betas = m.payload.calibration!.betas;
          raw.sendUnchecked('evaluateResult', { runId: m.payload.runId, round: m.payload.round, siteId: 'site-raw', numExamples: 10, metrics: { loss: 0.5, accuracy: 0.5 }, calibration: { betas, count: 10, stats: betas.map(() => ({ nll: -1e9, grad: 1e300, hess: -5 })) } });
          raw.send('siteFailure', { runId: m.payload.runId, round: m.payload.round, siteId: 'site-raw', code: 'data', reason: 'done' });
        }
        if (m.event === 'complete') resolve();
      });
    });
    raw.sendUnchecked('hello', { protocol: PROTOCOL_VERSION, siteId: 'site-raw', capabilities: { backend: 'cpu', runtime: 'node', numExamples: 100 } });
    const report = await fed.coordinator.done;
    await Promise.all(fed.siteRuns);
    await done;
    raw.close();
    await fed.coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    expect(rejections.length).toBeGreaterThan(0);
    expect(new Set(rejections)).toEqual(new Set(['malformed_payload']));
    const c = report.finalRobustness!.calibration!;
    expect(c.source).toBe('federated');
    const validation = concatDatasets(
      builtinDigitsSites({ sites: 2, partition: { kind: 'dirichlet', alpha: 1 }, seed: 7 }).map((full, k) => splitDataset(head(full, 200), deriveSeed(7, 'split', siteName(k))).validation),
    );
    expect(c.fittedOn).toBe(validation.y.length);
    const model = await loadModelDir(join(fed.coordinator.runDir, report.final!.modelDir));
    try {
      expect(Math.abs(c.temperature - fitTemperature(modelLogits(model, validation), validation.y))).toBeLessThan(1e-6);
    } finally {
      model.dispose();
    }
  });

  it('holdout (the default): fits on the coordinator\'s holdout, and certify adds the certification part', async () => {
    const { report, modelDir, metadata } = await run(2, { robustness: { ...QUICK, certify: { examples: 4, n0: 10, n: 40, radii: [0, 0.1] } } });
    const r = report.finalRobustness!;
    expect(r.calibration!.source).toBe('holdout');
    expect(r.calibration!.fittedOn).toBe(300);
    const model = await loadModelDir(modelDir);
    try {
      const holdout = head(builtinDigits().holdout, 300);
      expect(Math.abs(r.calibration!.temperature - fitTemperature(modelLogits(model, holdout), holdout.y))).toBeLessThan(1e-9);
    } finally {
      model.dispose();
    }
    expect(r.calibration!.nllAfter).toBeLessThanOrEqual(r.calibration!.nllBefore);
    expect(metadata.calibration).toMatchObject({ source: 'holdout', temperature: r.calibration!.temperature });
    expect(r.certification).toMatchObject({ examples: 4, n0: 10, n: 40, sigma: 0.25, alpha: 0.001 });
    expect(r.certification!.radii.map((x) => x.radius)).toEqual([0, 0.1]);
  });

  it('off: no calibration part and no temperature in model.json; no certification unless asked', async () => {
    const { report, metadata } = await run(2, { calibration: { source: 'off' }, robustness: QUICK });
    expect(report.finalRobustness!.calibration).toBeUndefined();
    expect(report.finalRobustness!.certification).toBeUndefined();
    expect(metadata.calibration).toBeUndefined();
  });
});
