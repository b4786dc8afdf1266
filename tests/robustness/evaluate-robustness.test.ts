import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { evaluateModel, evaluateRobustness, RobustnessReportSchema, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';

let model: tf.LayersModel;
let report: RobustnessReport;
const EPS = [0.02, 0.05, 0.1];

beforeAll(async () => {
  await selectNodeBackend();
  model = await loadModelDir(pretrainedModelDir('mlp'));
  // Small ε, where a normally trained MLP still has something left to lose, so "more with larger ε" shows.
  report = await evaluateRobustness(model, builtinDigits().holdout, {
    examples: 300,
    adversarialExamples: 200,
    fgsm: EPS,
    pgd: EPS,
    pgdSteps: 20,
    pgdStepSize: 0.01,
    corruptions: ['rotate', 'fog'],
  });
});

describe('evaluateRobustness on the committed pretrained MLP (built-in holdout)', () => {
  it('returns a report that satisfies its schema', () => {
    expect(() => RobustnessReportSchema.parse(report)).not.toThrow();
    expect(report.examples).toBe(300);
    expect(report.adversarialExamples).toBe(200);
    expect(report.inputKind).toBe('image');
    expect(report.clean.reliability).toHaveLength(15);
    expect(report.clean.confusion.flat().reduce((a, b) => a + b, 0)).toBe(300);
    expect(report.corruptions.map((c) => c.name)).toEqual(['rotate', 'fog']);
    expect(report.noise.map((r) => r.sigma)).toEqual([0.1, 0.2, 0.3, 0.5]);
  });

  it('reports plausible clean accuracy and calibration', () => {
    expect(report.clean.accuracy).toBeGreaterThan(0.5);
    expect(report.clean.ece).toBeGreaterThan(0);
    expect(report.clean.ece).toBeLessThan(0.5);
  });

  it('FGSM and PGD lower accuracy, more with larger ε, and PGD is at least as strong as FGSM', () => {
    const clean = report.adversarialCleanAccuracy!;
    for (const rows of [report.fgsm, report.pgd]) {
      expect(rows.map((r) => r.eps)).toEqual(EPS);
      for (const r of rows) expect(r.accuracy).toBeLessThan(clean);
      for (let i = 1; i < rows.length; i++) expect(rows[i].accuracy).toBeLessThanOrEqual(rows[i - 1].accuracy);
      expect(rows[rows.length - 1].accuracy).toBeLessThan(rows[0].accuracy);
    }
    for (let i = 0; i < EPS.length; i++) expect(report.pgd[i].accuracy).toBeLessThanOrEqual(report.fgsm[i].accuracy);
    // Noise hurts more with larger σ.
    expect(report.noise[3].accuracy).toBeLessThan(report.noise[0].accuracy);
  });

  it('passes its own self-checks (ε = 0 gives the clean accuracy; no masking signs)', () => {
    expect(report.warnings).toEqual([]);
  });

  it('clean metrics match evaluateModel on the whole holdout when every example is used', async () => {
    const hold = builtinDigits().holdout;
    const r = await evaluateRobustness(model, hold, { examples: hold.y.length, noise: false, corruptions: false, fgsm: false, pgd: false });
    const m = evaluateModel(model, hold);
    expect(r.clean.accuracy).toBeCloseTo(m.accuracy, 10);
    expect(r.clean.loss).toBeCloseTo(m.loss, 4);
    expect(r.fgsm).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('is deterministic for a seed', async () => {
    const opts = { examples: 60, adversarialExamples: 30, noise: [0.3], corruptions: ['shot_noise'], fgsm: [0.05], pgd: [0.05], pgdSteps: 3 };
    const a = await evaluateRobustness(model, builtinDigits().holdout, opts);
    const b = await evaluateRobustness(model, builtinDigits().holdout, opts);
    const strip = (r: RobustnessReport) => ({ ...r, timings: undefined, durationMs: undefined });
    expect(strip(a)).toEqual(strip(b));
  });

  it('leaks no tensors over repeated evaluations', async () => {
    const opts = { examples: 40, adversarialExamples: 20, noise: [0.2], corruptions: ['fog'], fgsm: [0.1], pgd: [0.1], pgdSteps: 3 };
    await evaluateRobustness(model, builtinDigits().holdout, opts);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await evaluateRobustness(model, builtinDigits().holdout, opts);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
