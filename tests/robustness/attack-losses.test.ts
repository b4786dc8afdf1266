import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { adversarialAccuracy, adversarialAccuracyByLoss, attackLoss, evaluateRobustness, fgmL2, fgsm, FedtuneError, pgd, pgdL2, RobustnessEvaluationConfig, RobustnessReportSchema, robustnessWarnings, saturatedShare, subset, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend, writeCsvDataset } from '@fedtune/shared/node';
import { attackLossList, evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';

let holdout: Dataset;
let model: tf.LayersModel;
/** The same classifier with its logits × 60: the same predictions, a saturated softmax (p of the top class rounds to 1). */
let saturated: tf.LayersModel;

beforeAll(async () => {
  await selectNodeBackend();
  holdout = subset(builtinDigits().holdout, Array.from({ length: 200 }, (_, i) => i));
  model = await loadModelDir(pretrainedModelDir('mlp'));
  saturated = await loadModelDir(pretrainedModelDir('mlp'));
  const last = saturated.layers[saturated.layers.length - 1];
  last.setWeights(last.getWeights().map((w) => tf.mul(w, 60)));
});

const params = { eps: 0.05, steps: 20, stepSize: 0.01, seed: 3, clipMin: 0, clipMax: 1, batchSize: 64 };

describe('attackLoss', () => {
  it('ce is the summed softmax cross-entropy; margin is Σ (max over j ≠ y of z_j) − z_y, exactly', () => {
    const logits = tf.tensor2d([
      [2, 5, -1],
      [0.5, 0.25, 3],
      [-4, -4.5, -2],
    ]);
    const onehot = tf.tensor2d([
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
    ]);
    // Row 1: 5 − 2 = 3; row 2: 0.5 − 3 = −2.5; row 3: max(−4, −2) − (−4.5) = 2.5.
    expect(attackLoss(logits, onehot, 'margin').dataSync()[0]).toBe(3);
    const ce = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, undefined, tf.Reduction.SUM).dataSync()[0];
    expect(attackLoss(logits, onehot, 'ce').dataSync()[0]).toBe(ce);
    expect(attackLoss(logits, onehot).dataSync()[0]).toBe(ce);
    tf.dispose([logits, onehot]);
  });

  it('the margin gradient does not vanish where the cross-entropy saturates', () => {
    const onehot = tf.tensor2d([[1, 0, 0]]);
    const grad = (loss: 'ce' | 'margin') => tf.tidy(() => tf.grad((z: tf.Tensor) => attackLoss(z, onehot, loss))(tf.tensor2d([[200, 0, -3]])).dataSync());
    // p(true) = 1 − e^-200 rounds to 1: the cross-entropy's gradient is all 0 in float32.
    expect(Array.from(grad('ce'))).toEqual([0, 0, 0]);
    expect(Array.from(grad('margin'))).toEqual([-1, 1, 0]);
    onehot.dispose();
  });
});

describe('attacks on the worst case over the losses', () => {
  it('a saturated model: PGD on the cross-entropy is masked, on the margin it is not — and the margin alone is scale-free', async () => {
    const ce = await adversarialAccuracy(saturated, holdout, pgd, params);
    const [ceStage, worst] = await adversarialAccuracyByLoss(saturated, holdout, pgd, params, ['ce', 'margin']);
    expect(ceStage).toBe(ce);
    expect(ceStage).toBeGreaterThan(worst + 0.2);
    // The unscaled model's cross-entropy is not saturated: its own PGD is about as strong as the margin's on the scaled model.
    const unscaled = await adversarialAccuracy(model, holdout, pgd, params);
    expect(Math.abs(unscaled - worst)).toBeLessThan(0.06);
    const [marginOnly] = await adversarialAccuracyByLoss(saturated, holdout, pgd, params, ['margin']);
    expect(marginOnly).toBeGreaterThanOrEqual(worst);
  });

  it('stages are cumulative: each loss attacks only what the earlier ones left correct, in the order given', async () => {
    const [a, b] = await adversarialAccuracyByLoss(model, holdout, pgd, params, ['margin', 'ce']);
    const [marginOnly] = await adversarialAccuracyByLoss(model, holdout, pgd, params, ['margin']);
    expect(a).toBe(marginOnly);
    expect(b).toBeLessThanOrEqual(a);
    // FGSM takes the loss as well.
    const [f1, f2] = await adversarialAccuracyByLoss(saturated, holdout, fgsm, { ...params, stepSize: params.eps }, ['ce', 'margin']);
    expect(f1).toBeGreaterThan(f2 + 0.2);
  });

  it.each([
    { name: 'fgsm', attack: fgsm, p: { ...params, steps: 1, stepSize: params.eps } },
    { name: 'pgd', attack: pgd, p: params },
    { name: 'fgm-l2', attack: fgmL2, p: { ...params, eps: 1, steps: 1, stepSize: 1 } },
    { name: 'pgd-l2', attack: pgdL2, p: { ...params, eps: 1, steps: 10, stepSize: 0.25 } },
  ])('$name follows the loss it is given: on the saturated model the margin beats the cross-entropy alone', async ({ attack, p }) => {
    const [ce] = await adversarialAccuracyByLoss(saturated, holdout, attack, p, ['ce']);
    const [margin] = await adversarialAccuracyByLoss(saturated, holdout, attack, p, ['margin']);
    expect(ce).toBeGreaterThan(margin + 0.15);
    // No loss given: the cross-entropy.
    const x = tf.tensor2d(holdout.x.subarray(0, 20 * 784), [20, 784]);
    const onehot = tf.oneHot(tf.tensor1d(Array.from(holdout.y.subarray(0, 20)), 'int32'), 10).cast('float32');
    const a = attack.run(saturated, x, onehot, { ...p, seed: 1 });
    const b = attack.run(saturated, x, onehot, { ...p, seed: 1, loss: 'ce' });
    const c = attack.run(saturated, x, onehot, { ...p, seed: 1, loss: 'margin' });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    tf.dispose([x, onehot, a, b, c]);
  });

  it('no losses, or one twice, is a typed config error; nothing leaks', async () => {
    await expect(adversarialAccuracyByLoss(model, holdout, pgd, params, [])).rejects.toThrow(FedtuneError);
    await expect(evaluateRobustness(model, holdout, { attackLosses: ['ce', 'ce'], noise: false, corruptions: false, fgsm: [0.1], pgd: false, examples: 20, adversarialExamples: 20 })).rejects.toThrow(/at most once/);
    // Checked before any work: data the model cannot take would fail later, with another error.
    const wrongClasses = { ...holdout, numClasses: 3 };
    await expect(evaluateRobustness(model, wrongClasses, { attackLosses: [] })).rejects.toThrow(/attackLosses must name each of ce, margin at most once, and at least one/);
    await expect(evaluateRobustness(model, wrongClasses, {})).rejects.toThrow(/model outputs 10 classes, data has 3/);
    const before = tf.memory().numTensors;
    await adversarialAccuracyByLoss(saturated, holdout, pgd, { ...params, steps: 3 }, ['ce', 'margin']);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('evaluateRobustness attackLosses (effect of the option)', () => {
  const opts = { examples: 120, adversarialExamples: 120, noise: false, corruptions: false, fgsm: [0.05], pgd: [0.05], pgdSteps: 20 } as const;

  it.each([
    { losses: undefined, reported: ['ce', 'margin'] },
    { losses: ['ce'] as const, reported: ['ce'] },
    { losses: ['margin'] as const, reported: ['margin'] },
    { losses: ['margin', 'ce'] as const, reported: ['margin', 'ce'] },
  ])('attackLosses $losses: the report names $reported, rows carry byLoss only with two', async ({ losses, reported }) => {
    const r = RobustnessReportSchema.parse(await evaluateRobustness(saturated, holdout, { ...opts, ...(losses ? { attackLosses: losses } : {}) }));
    expect(r.attackLosses).toEqual(reported);
    for (const row of [...r.fgsm, ...r.pgd]) {
      if (reported.length === 1) expect(row.byLoss).toBeUndefined();
      else {
        expect(row.byLoss!.map((s) => s.loss)).toEqual(reported);
        expect(row.byLoss![1].accuracy).toBe(row.accuracy);
        expect(row.byLoss![0].accuracy).toBeGreaterThanOrEqual(row.accuracy);
      }
    }
  });

  it('the default finds what the cross-entropy alone misses on a saturated model, and says so in a warning', async () => {
    const ceOnly = await evaluateRobustness(saturated, holdout, { ...opts, attackLosses: ['ce'] });
    const both = await evaluateRobustness(saturated, holdout, opts);
    expect(both.pgd[0].byLoss![0].accuracy).toBe(ceOnly.pgd[0].accuracy);
    expect(both.pgd[0].accuracy).toBeLessThan(ceOnly.pgd[0].accuracy - 0.2);
    // The x60 head saturates the softmax on about half of the digits: the report measures it, and the warning names it.
    expect(both.saturatedShare).toBeGreaterThan(0.3);
    expect(both.warnings.some((w) => /^PGD at ε=0\.05: the ce loss alone leaves .* the worst case over the ce and margin losses .* rounds to 1 in float32 on \d+\.\d% of these examples: the ce loss is saturated/.test(w))).toBe(true);
    expect(ceOnly.warnings.some((w) => /saturated/.test(w))).toBe(false);
    // The plain, unsaturated model: the two losses agree within the tolerance, no warning.
    const plain = await evaluateRobustness(model, holdout, opts);
    expect(plain.saturatedShare).toBe(0);
    expect(plain.warnings.some((w) => /saturated/.test(w))).toBe(false);
  });
});

describe('the saturation self-check', () => {
  const row = (first: number, worst: number) => ({ eps: 0.1, steps: 10, stepSize: 0.01, accuracy: worst, byLoss: [{ loss: 'ce' as const, accuracy: first }, { loss: 'margin' as const, accuracy: worst }] });
  it.each([
    { first: 0.5, worst: 0.44, tolerance: undefined, warns: true },
    { first: 0.5, worst: 0.45, tolerance: undefined, warns: false },
    { first: 0.5, worst: 0.44, tolerance: 0.1, warns: false },
    { first: 0.5, worst: 0.39, tolerance: 0.1, warns: true },
  ])('ce $first vs worst $worst, tolerance $tolerance: warns $warns', ({ first, worst, tolerance, warns }) => {
    const w = robustnessWarnings({ fgsm: [], pgd: [row(first, worst)], adversarialCleanAccuracy: 0.9 }, 0.9, tolerance === undefined ? {} : { lossGapTolerance: tolerance });
    expect(w.some((x) => x.includes('saturated'))).toBe(warns);
  });
  it('checks FGSM and PGD-L2 rows too', () => {
    const w = robustnessWarnings({ fgsm: [row(0.8, 0.2)], pgd: [], pgdL2: [{ ...row(0.8, 0.2), eps: 1 }], adversarialCleanAccuracy: 0.9 }, 0.9);
    expect(w.filter((x) => x.includes('saturated')).map((x) => x.split(' ')[0])).toEqual(['FGSM', 'PGD-L2']);
  });
});

describe('robustness.attackLosses in the run config and --attack-loss', () => {
  it('the run config takes a list of known losses, each once', () => {
    expect(RobustnessEvaluationConfig.parse({ attackLosses: ['margin'] }).attackLosses).toEqual(['margin']);
    expect(RobustnessEvaluationConfig.parse({}).attackLosses).toBeUndefined();
    for (const bad of [[], ['ce', 'ce'], ['cw'], ['ce', 'margin', 'ce']]) expect(RobustnessEvaluationConfig.safeParse({ attackLosses: bad }).success).toBe(false);
  });

  it('--attack-loss parses a list, refuses unknown or repeated names in one line', () => {
    expect(attackLossList('margin,ce')).toEqual(['margin', 'ce']);
    expect(() => attackLossList('ce,cw')).toThrow(/unknown attack loss "cw" \(known: ce, margin\)/);
    expect(() => attackLossList('ce,ce')).toThrow(/at most once/);
  });

  it.each([
    { flag: [], losses: ['ce', 'margin'] },
    { flag: ['--attack-loss', 'ce'], losses: ['ce'] },
  ])('fedtune evaluate $flag → attackLosses $losses in the report', async ({ flag, losses }) => {
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-eval-loss-'));
    const csv = join(dir, 'data.csv');
    await writeCsvDataset(csv, subset(holdout, Array.from({ length: 40 }, (_, i) => i)));
    const out = join(dir, 'report.json');
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      await evaluateCommand().parseAsync(['--model', pretrainedModelDir('mlp'), '--data', csv, '--out', out, '--examples', '40', '--adversarial-examples', '20', '--corruptions', 'none', '--noise', 'none', '--fgsm', 'none', '--pgd', '0.1', '--pgd-steps', '3', ...flag], { from: 'user' });
    } finally {
      log.mockRestore();
    }
    const report = RobustnessReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(report.attackLosses).toEqual(losses);
    expect(lines.some((l) => l.includes(losses.length > 1 ? 'worst case over the ce and margin losses' : 'attacks on the ce loss'))).toBe(true);
  });
});

describe('saturatedShare: the true class\'s probability rounds to 1 in float32', () => {
  it.each([
    // p_y = 1 / (1 + e^(−d)) for 2 classes with margin d: in float32 it rounds to 1 once e^(−d) < 2^−25 (d > 17.33).
    { logits: [0, 17.3], y: 1, saturated: false },
    { logits: [0, 17.4], y: 1, saturated: true },
    { logits: [17.4, 0], y: 1, saturated: false },
    // The other classes add up: 9 others at margin 17.4 are 9 × e^(−17.4) > 2^−25.
    { logits: [0, 0, 0, 0, 0, 0, 0, 0, 0, 17.4], y: 9, saturated: false },
    { logits: [0, 0, 0, 0, 0, 0, 0, 0, 0, 19.6], y: 9, saturated: true },
  ])('logits $logits, class $y: saturated $saturated', ({ logits, y, saturated }) => {
    expect(saturatedShare(Float32Array.from(logits), [y], logits.length)).toBe(saturated ? 1 : 0);
  });

  it('is the share over the examples; none is 0', () => {
    const logits = Float32Array.from([0, 30, 0, 1, 40, 0, 5, 5]);
    expect(saturatedShare(logits, [1, 1, 0, 0], 2)).toBe(0.5);
    expect(saturatedShare(new Float32Array(0), [], 2)).toBe(0);
  });
});
