import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { adversarialAccuracy, dataStd, digitsHeadlineEps, epsScale, evaluateRobustness, fgmL2, HEADLINE_SIGNAL_FRACTION, pgdL2, RobustnessEvaluationConfig, RobustnessReportSchema, scannerInk, scannerProfiles, subset, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { simulationRunConfig } from '../../cli/src/simulation/run-simulation.ts';

let model: tf.LayersModel;
let holdout: Dataset;

beforeAll(async () => {
  await selectNodeBackend();
  model = await loadModelDir(pretrainedModelDir('mlp'));
  holdout = subset(builtinDigits().holdout, Array.from({ length: 120 }, (_, i) => i));
});

function l2Norms(a: tf.Tensor, b: tf.Tensor): number[] {
  return tf.tidy(() => Array.from(tf.sqrt(tf.sum(tf.square(tf.sub(a, b)), 1)).dataSync()));
}

describe('L2 attacks', () => {
  it('PGD-L2 and FGM-L2 stay in the L2 ball and the valid range; FGM moves the full ε where nothing clips', () => {
    const x = tf.tensor(holdout.x.subarray(0, 16 * 784), [16, 784]);
    const onehot = tf.oneHot(tf.tensor1d(holdout.y.subarray(0, 16), 'int32'), 10).toFloat();
    for (const attack of [pgdL2, fgmL2]) {
      const adv = attack.run(model, x, onehot, { eps: 1.5, steps: 10, stepSize: 0.4, seed: 2, clipMin: 0, clipMax: 1 });
      for (const n of l2Norms(adv, x)) expect(n).toBeLessThanOrEqual(1.5 * (1 + 1e-4));
      expect(tf.min(adv).dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(tf.max(adv).dataSync()[0]).toBeLessThanOrEqual(1);
      adv.dispose();
    }
    const free = fgmL2.run(model, x, onehot, { eps: 1.5, steps: 1, stepSize: 1.5, seed: 2, clipMin: -10, clipMax: 10 });
    for (const n of l2Norms(free, x)) expect(n).toBeCloseTo(1.5, 3);
    tf.dispose([x, onehot, free]);
  });

  it('a feature of scale 0 never moves (L2 in feature-std units)', () => {
    const x = tf.tensor(holdout.x.subarray(0, 4 * 784), [4, 784]);
    const onehot = tf.oneHot(tf.tensor1d(holdout.y.subarray(0, 4), 'int32'), 10).toFloat();
    const scale = new Float32Array(784).fill(1);
    scale.fill(0, 0, 392);
    const adv = pgdL2.run(model, x, onehot, { eps: 2, steps: 5, stepSize: 0.5, seed: 1, clipMin: -10, clipMax: 10, scale });
    const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x).slice([0, 0], [4, 392]))).dataSync()[0]);
    expect(moved).toBe(0);
    tf.dispose([x, onehot, adv]);
  });

  it('PGD-L2 accuracy falls with ε, is not weaker than FGM-L2, passes the self-checks and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const r = await evaluateRobustness(model, holdout, { noise: false, corruptions: false, fgsm: false, pgd: false, pgdL2: [0.5, 1, 2], pgdSteps: 10, examples: 120, adversarialExamples: 60 });
    expect(tf.memory().numTensors).toBe(before);
    const acc = r.pgdL2!.map((p) => p.accuracy);
    expect(acc[0]).toBeGreaterThanOrEqual(acc[1]);
    expect(acc[1]).toBeGreaterThanOrEqual(acc[2]);
    expect(acc[2]).toBeLessThan(r.adversarialCleanAccuracy! - 0.1);
    expect(r.pgdL2!.map((p) => p.stepSize)).toEqual([0.125, 0.25, 0.5]);
    expect(RobustnessReportSchema.parse(r)).toBeTruthy();
    expect(r.warnings).toEqual([]);
    const same = subset(holdout, Array.from({ length: 60 }, (_, i) => i));
    const params = { eps: 2, seed: 0, clipMin: 0, clipMax: 1, batchSize: 60 };
    const fgm = await adversarialAccuracy(model, same, fgmL2, { ...params, steps: 1, stepSize: 2 });
    expect(await adversarialAccuracy(model, same, pgdL2, { ...params, steps: 10, stepSize: 0.5 })).toBeLessThanOrEqual(fgm);
  });

  it('is off by default, and the run config accepts an L2 list', () => {
    expect(RobustnessEvaluationConfig.parse({ pgdL2: [0.5, 2] }).pgdL2).toEqual([0.5, 2]);
    expect(RobustnessEvaluationConfig.safeParse({ pgdL2: [-1] }).success).toBe(false);
  });
});

describe('ε in data-std units in the evaluation', () => {
  it('reports the unit\'s scale and each row\'s absolute ε, and attacks with ε × the pixel std', async () => {
    const opts = { noise: false, corruptions: false, fgsm: [0.2], pgd: [0.2], pgdSteps: 5, pgdStepSize: 0.05, examples: 120, adversarialExamples: 60 } as const;
    const relative = await evaluateRobustness(model, holdout, { ...opts, epsUnits: 'data-std' });
    const std = dataStd(subset(holdout, Array.from({ length: 120 }, (_, i) => i)));
    expect(relative.epsUnits).toBe('data-std');
    expect(relative.epsScale).toBeCloseTo(dataStd(holdout), 6);
    expect(relative.pgd[0].epsAbsolute).toBeCloseTo(0.2 * std, 6);
    expect(relative.fgsm[0].epsAbsolute).toBeCloseTo(0.2 * std, 6);
    const absolute = await evaluateRobustness(model, holdout, { ...opts, fgsm: [0.2 * relative.epsScale!], pgd: [0.2 * relative.epsScale!], pgdStepSize: 0.05 * relative.epsScale! });
    expect(absolute.epsScale).toBe(1);
    expect(absolute.pgd[0].accuracy).toBe(relative.pgd[0].accuracy);
    expect(absolute.fgsm[0].accuracy).toBe(relative.fgsm[0].accuracy);
  });

  it('the default PGD step is absolute (0.01): data-std units attack the same ball as strongly as absolute ones (new-user review)', async () => {
    const opts = { noise: false, corruptions: false, fgsm: false, pgdSteps: 10, examples: 120, adversarialExamples: 60 } as const;
    const relative = await evaluateRobustness(model, holdout, { ...opts, pgd: [0.2], epsUnits: 'data-std' });
    const scale = relative.epsScale!;
    // The row's step in its units is 0.01 / the pixel std: 0.01 in absolute units.
    expect(relative.pgd[0].stepSize * scale).toBeCloseTo(0.01, 12);
    const absolute = await evaluateRobustness(model, holdout, { ...opts, pgd: [0.2 * scale] });
    expect(absolute.pgd[0].stepSize).toBe(0.01);
    expect(relative.pgd[0].accuracy).toBe(absolute.pgd[0].accuracy);
    // Before, the step was 0.01 of the std: a weaker attack on the same ball.
    const before = await evaluateRobustness(model, holdout, { ...opts, pgd: [0.2], epsUnits: 'data-std', pgdStepSize: 0.01 });
    expect(before.pgd[0].accuracy).toBeGreaterThan(absolute.pgd[0].accuracy);
    // An explicit step stays in ε's units.
    expect(before.pgd[0].stepSize).toBe(0.01);
  });

  it('epsScale: 1 for absolute, the pooled std for data-std, each feature\'s std for feature-std', () => {
    const d: Dataset = { x: Float32Array.from([0, 10, 2, 10]), y: Int32Array.from([0, 1]), featureShape: [2], numClasses: 2 };
    expect(epsScale(d, 'absolute')).toEqual({ units: 'absolute', value: 1 });
    expect(epsScale(d, 'data-std').value).toBeCloseTo(Math.sqrt((5.5 ** 2 + 4.5 ** 2 + 3.5 ** 2 + 4.5 ** 2) / 4), 6);
    const f = epsScale(d, 'feature-std');
    expect(Array.from(f.perFeature!)).toEqual([1, 0]);
    expect(f.value).toBe(0.5);
  });
});

describe('the built-in task\'s headline ε', () => {
  it('is 10% of the scanners\' mean ink (0.06), inside 10% of the weakest and strongest scanner\'s ink; 0.1 on clean digits', () => {
    const inks = scannerProfiles().map(scannerInk);
    expect(Math.min(...inks)).toBeCloseTo(0.433, 3);
    expect(Math.max(...inks)).toBeCloseTo(0.668, 3);
    expect(digitsHeadlineEps()).toBe(0.06);
    expect(digitsHeadlineEps()).toBeGreaterThan(HEADLINE_SIGNAL_FRACTION * Math.min(...inks));
    expect(digitsHeadlineEps()).toBeLessThan(HEADLINE_SIGNAL_FRACTION * Math.max(...inks));
    expect(digitsHeadlineEps(false)).toBe(0.1);
  });

  it('the evaluation adds it to its ε lists and reports it; a list that has it keeps it once', async () => {
    const opts = { noise: false, corruptions: false, pgdSteps: 2, examples: 40, adversarialExamples: 20, headlineEps: 0.06 } as const;
    const r = await evaluateRobustness(model, holdout, { ...opts, fgsm: [0.05, 0.1], pgd: [0.1] });
    expect(r.headlineEps).toBe(0.06);
    expect(r.fgsm.map((x) => x.eps)).toEqual([0.05, 0.06, 0.1]);
    expect(r.pgd.map((x) => x.eps)).toEqual([0.06, 0.1]);
    const once = await evaluateRobustness(model, holdout, { ...opts, fgsm: false, pgd: [0.06] });
    expect(once.pgd.map((x) => x.eps)).toEqual([0.06]);
    const none = await evaluateRobustness(model, holdout, { ...opts, fgsm: false, pgd: false });
    expect(none.headlineEps).toBeUndefined();
  });

  it('a simulation of the built-in task always evaluates at it (0.06 with the scanners, 0.1 without)', () => {
    expect(simulationRunConfig({ sites: 2, out: '/tmp', transport: 'memory' }).robustness.headlineEps).toBe(0.06);
    expect(simulationRunConfig({ sites: 2, out: '/tmp', transport: 'memory', featureShift: false }).robustness.headlineEps).toBe(0.1);
    expect(simulationRunConfig({ sites: 2, out: '/tmp', transport: 'memory', robustness: { when: 'never' } }).robustness).toMatchObject({ when: 'never', headlineEps: 0.06 });
  });
});
