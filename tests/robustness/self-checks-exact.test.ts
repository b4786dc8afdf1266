import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { adversarialAccuracyByLoss, deriveSeed, FedtuneError, robustnessWarnings, type Attack, type AttackParams, type Dataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

/**
 * Fast, exact tests of the adversarial evaluation's bookkeeping: the self-checks' every rule at its edge (with
 * their exact messages), and the worst case over losses driven by a scripted attack on a model whose
 * prediction is known — so each stage's survivors, seeds and counts are known exactly.
 */

const row = (eps: number, accuracy: number, extra: object = {}) => ({ eps, accuracy, ...extra });
const pgdRow = (eps: number, accuracy: number, extra: object = {}) => ({ eps, steps: 40, stepSize: 0.01, accuracy, ...extra });

describe('robustnessWarnings: every rule at its edge', () => {
  it.each([
    { name: 'no rows, no checks', report: { fgsm: [], pgd: [], adversarialCleanAccuracy: null }, eps0: null, want: [] },
    { name: 'falling with ε, in any order', report: { fgsm: [row(0.2, 0.3), row(0.1, 0.5)], pgd: [], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    {
      name: 'rising with ε (rows given unsorted)',
      report: { fgsm: [row(0.2, 0.6), row(0.1, 0.5)], pgd: [], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['FGSM accuracy rises with ε: 50.0% at ε=0.1 but 60.0% at ε=0.2 (gradient masking?)'],
    },
    { name: 'equal accuracy at two ε is not a rise', report: { fgsm: [], pgd: [pgdRow(0.1, 0.5), pgdRow(0.2, 0.5)], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    {
      name: 'above the clean accuracy of the attacked examples',
      report: { fgsm: [row(0.1, 0.95)], pgd: [], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['FGSM accuracy at ε=0.1 (95.0%) exceeds the clean accuracy of the same examples (90.0%)'],
    },
    { name: 'equal to the clean accuracy is allowed', report: { fgsm: [row(0.1, 0.9)], pgd: [], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    { name: 'no clean accuracy: nothing to exceed', report: { fgsm: [row(0.1, 0.95)], pgd: [], adversarialCleanAccuracy: null }, eps0: null, want: [] },
    {
      name: 'PGD weaker than FGSM by more than 2 points',
      report: { fgsm: [row(0.1, 0.4)], pgd: [pgdRow(0.1, 0.43)], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['PGD is weaker than FGSM at ε=0.1: 43.0% vs 40.0% (gradient masking, or too few/small PGD steps: 40 × 0.01)'],
    },
    { name: 'PGD weaker than FGSM by exactly 2 points is noise', report: { fgsm: [row(0.1, 0.4)], pgd: [pgdRow(0.1, 0.42)], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    { name: 'PGD and FGSM at different ε are not compared', report: { fgsm: [row(0.2, 0.1)], pgd: [pgdRow(0.1, 0.5)], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    {
      name: 'ε = 0 through the attack path changes the accuracy',
      report: { fgsm: [], pgd: [], adversarialCleanAccuracy: 0.9 },
      eps0: 0.85,
      want: ['accuracy at ε=0 (85.0%) differs from the clean accuracy of the same examples (90.0%): the attack path changes the inputs'],
    },
    { name: 'ε = 0 within 1e-9 of clean', report: { fgsm: [], pgd: [], adversarialCleanAccuracy: 0.9 }, eps0: 0.9 + 1e-10, want: [] },
    { name: 'no ε = 0 run', report: { fgsm: [], pgd: [], adversarialCleanAccuracy: 0.9 }, eps0: null, want: [] },
    { name: 'an ε = 0 run but no clean accuracy to compare it with', report: { fgsm: [], pgd: [], adversarialCleanAccuracy: null }, eps0: 0.9, want: [] },
    // 1e-9 − 0 is exactly 1e-9: the bound itself is allowed.
    { name: 'ε = 0 exactly 1e-9 from clean', report: { fgsm: [], pgd: [], adversarialCleanAccuracy: 0 }, eps0: 1e-9, want: [] },
    {
      name: 'a saturated first loss (PGD-L2 row; the rest joined)',
      report: { fgsm: [], pgd: [], pgdL2: [pgdRow(1, 0.2, { stepSize: 0.0625, byLoss: [{ loss: 'ce', accuracy: 0.3 }, { loss: 'margin', accuracy: 0.2 }] })], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['PGD-L2 at ε=1: the ce loss alone leaves 30.0% correct, the worst case over the ce and margin losses 20.0%: the ce loss is saturated (gradient masking); the reported accuracy is the worst case'],
    },
    {
      name: 'a saturated first loss with two later losses (joined)',
      report: { fgsm: [], pgd: [pgdRow(0.1, 0.2, { byLoss: [{ loss: 'ce', accuracy: 0.5 }, { loss: 'margin', accuracy: 0.3 }, { loss: 'dlr', accuracy: 0.2 }] })], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['PGD at ε=0.1: the ce loss alone leaves 50.0% correct, the worst case over the ce, margin and dlr losses 20.0%: the ce loss is saturated (gradient masking); the reported accuracy is the worst case'],
    },
    // With the saturation measured (saturatedShare), a gap is flagged only where the cross-entropy is saturated on more than the tolerance's share of the examples.
    {
      name: 'a first-loss gap on a saturated cross-entropy names the share',
      report: { fgsm: [], pgd: [pgdRow(0.1, 0.2, { byLoss: [{ loss: 'ce', accuracy: 0.5 }, { loss: 'margin', accuracy: 0.2 }] })], adversarialCleanAccuracy: 0.9, saturatedShare: 0.0625 },
      eps0: 0.9,
      want: ['PGD at ε=0.1: the ce loss alone leaves 50.0% correct, the worst case over the ce and margin losses 20.0%; its probability of the true class rounds to 1 in float32 on 6.3% of these examples: the ce loss is saturated (gradient masking); the reported accuracy is the worst case'],
    },
    {
      name: 'a first-loss gap without saturation is two attacks\' union, not masking: not flagged',
      report: { fgsm: [], pgd: [pgdRow(0.1, 0.2, { byLoss: [{ loss: 'ce', accuracy: 0.5 }, { loss: 'margin', accuracy: 0.2 }] })], adversarialCleanAccuracy: 0.9, saturatedShare: 0 },
      eps0: 0.9,
      want: [],
    },
    {
      name: 'a first-loss gap with exactly the tolerance\'s share saturated is not flagged',
      report: { fgsm: [row(0.1, 0.1, { byLoss: [{ loss: 'ce', accuracy: 0.5 }, { loss: 'margin', accuracy: 0.1 }] })], pgd: [], adversarialCleanAccuracy: 0.9, saturatedShare: 0.05 },
      eps0: 0.9,
      want: [],
    },
    {
      name: 'a first-loss gap of exactly the tolerance is not flagged',
      report: { fgsm: [], pgd: [pgdRow(0.1, 0.25, { byLoss: [{ loss: 'ce', accuracy: 0.3 }, { loss: 'margin', accuracy: 0.25 }] })], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: [],
    },
    {
      name: 'PGD whose steps cannot travel its ε (10 × 0.01 at ε 0.3)',
      report: { fgsm: [], pgd: [pgdRow(0.1, 0.5, { steps: 10 }), pgdRow(0.3, 0.4, { steps: 10 })], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['PGD at ε=0.3 cannot reach its ε: 10 steps × 0.01 travel 0.1 at most (the usual step is 2.5·ε/steps = 0.075): its accuracy overstates the robustness at this ε; raise the steps or the step size'],
    },
    // The check allows a relative 1e-9 of rounding: one step of exactly ε·(1 − 1e-9) still reaches ε.
    { name: 'PGD whose one step travels exactly ε·(1 − 1e-9)', report: { fgsm: [], pgd: [pgdRow(1, 0.1, { steps: 1, stepSize: 1 * (1 - 1e-9) })], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    { name: 'PGD whose steps travel exactly its ε (40 × 0.01 at ε 0.4)', report: { fgsm: [], pgd: [pgdRow(0.4, 0.1)], adversarialCleanAccuracy: 0.9 }, eps0: 0.9, want: [] },
    {
      name: 'PGD one step short of its ε (39 × 0.01 at ε 0.4)',
      report: { fgsm: [], pgd: [pgdRow(0.4, 0.1, { steps: 39 })], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['PGD at ε=0.4 cannot reach its ε: 39 steps × 0.01 travel 0.39 at most (the usual step is 2.5·ε/steps = 0.02564): its accuracy overstates the robustness at this ε; raise the steps or the step size'],
    },
    {
      name: 'PGD-L2 whose steps cannot travel its radius',
      report: { fgsm: [], pgd: [], pgdL2: [pgdRow(2, 0.3, { steps: 5, stepSize: 0.2 })], adversarialCleanAccuracy: 0.9 },
      eps0: 0.9,
      want: ['PGD-L2 at ε=2 cannot reach its ε: 5 steps × 0.2 travel 1 at most (the usual step is 2.5·ε/steps = 1): its accuracy overstates the robustness at this ε; raise the steps or the step size'],
    },
  ] as const)('$name', ({ report, eps0, want }) => {
    expect(robustnessWarnings(report as unknown as Parameters<typeof robustnessWarnings>[0], eps0)).toEqual(want);
  });

  it.each([
    { option: { monotoneTolerance: 0.1 }, rows: { fgsm: [row(0.1, 0.5), row(0.2, 0.6)] }, warns: false },
    { option: { monotoneTolerance: 0.05 }, rows: { fgsm: [row(0.1, 0.5), row(0.2, 0.6)] }, warns: true },
    { option: { pgdOverFgsmTolerance: 0.1 }, rows: { fgsm: [row(0.1, 0.4)], pgd: [pgdRow(0.1, 0.45)] }, warns: false },
    { option: { pgdOverFgsmTolerance: 0 }, rows: { fgsm: [row(0.1, 0.4)], pgd: [pgdRow(0.1, 0.41)] }, warns: true },
    // Exact binary fractions: PGD above FGSM by exactly the tolerance is not flagged, by more is.
    { option: { pgdOverFgsmTolerance: 0.25 }, rows: { fgsm: [row(0.1, 0.5)], pgd: [pgdRow(0.1, 0.75)] }, warns: false },
    { option: { pgdOverFgsmTolerance: 0.25 }, rows: { fgsm: [row(0.1, 0.5)], pgd: [pgdRow(0.1, 0.8125)] }, warns: true },
    // The tolerance also applies to the clean accuracy of the attacked examples (0.9 here): 0.95 is within 0.1 of it.
    { option: { monotoneTolerance: 0.1 }, rows: { fgsm: [row(0.1, 0.95)] }, warns: false },
    { option: { monotoneTolerance: 0.01 }, rows: { fgsm: [row(0.1, 0.95)] }, warns: true },
    { option: { lossGapTolerance: 0.2 }, rows: { pgd: [pgdRow(0.1, 0.2, { byLoss: [{ loss: 'margin', accuracy: 0.35 }, { loss: 'ce', accuracy: 0.2 }] })] }, warns: false },
    { option: { lossGapTolerance: 0.1 }, rows: { pgd: [pgdRow(0.1, 0.2, { byLoss: [{ loss: 'margin', accuracy: 0.35 }, { loss: 'ce', accuracy: 0.2 }] })] }, warns: true },
  ])('option $option changes the verdict: warns $warns', ({ option, rows, warns }) => {
    const report = { fgsm: [], pgd: [], adversarialCleanAccuracy: 0.9, ...rows } as unknown as Parameters<typeof robustnessWarnings>[0];
    expect(robustnessWarnings(report, 0.9, option).length > 0).toBe(warns);
  });
});

// A model whose prediction is the argmax of the first 3 of 4 inputs (the 4th, a tag, is ignored): the scripted
// attack below fools an example by moving its input to another class's one-hot.
let model: tf.LayersModel;
beforeAll(async () => {
  await selectNodeBackend();
  model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, useBias: false, weights: [tf.tensor2d([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], [4, 3])] })] });
});

/** n examples, label i mod 3, input the label's one-hot and a tag: 1 → the ce attack fools it, 2 → the margin attack does. */
function tagged(tags: number[]): Dataset {
  const x = new Float32Array(tags.length * 4);
  const y = new Int32Array(tags.length);
  tags.forEach((t, i) => {
    y[i] = i % 3;
    x[i * 4 + y[i]] = 1;
    x[i * 4 + 3] = t;
  });
  return { x, y, numClasses: 3, featureShape: [4] } as unknown as Dataset;
}

function scripted(calls: Array<{ loss: string | undefined; rows: number; seed: number; eps: number }>): Attack {
  return {
    name: 'pgd',
    reference: 'test',
    run(_m, x, _onehot, p: AttackParams) {
      calls.push({ loss: p.loss, rows: x.shape[0], seed: p.seed, eps: p.eps });
      const fooledTag = p.loss === 'ce' ? 1 : 2;
      return tf.tidy(() => {
        const v = x.arraySync() as number[][];
        return tf.tensor2d(v.map((r) => (r[3] === fooledTag ? [r[2], r[0], r[1], r[3]] : r)));
      });
    },
  };
}

const params = { eps: 0.1, steps: 3, stepSize: 0.05, seed: 7, clipMin: 0, clipMax: 1, batchSize: 4 };

describe('adversarialAccuracyByLoss: exact stages from a scripted attack', () => {
  // 10 examples in batches of 4, 4, 2: tags per batch [1,0,2,0] [2,2,1,0] [0,1].
  const tags = [1, 0, 2, 0, 2, 2, 1, 0, 0, 1];

  it('the cross-entropy stage fools the 1s, the margin stage the 2s among what is left; seeds and rows per stage', async () => {
    const calls: Array<{ loss: string | undefined; rows: number; seed: number; eps: number }> = [];
    const stages = await adversarialAccuracyByLoss(model, tagged(tags), scripted(calls), params, ['ce', 'margin']);
    expect(stages).toEqual([7 / 10, 4 / 10]);
    expect(calls.map((c) => [c.loss, c.rows])).toEqual([
      ['ce', 4],
      ['margin', 3],
      ['ce', 4],
      ['margin', 3],
      ['ce', 2],
      ['margin', 1],
    ]);
    // The first loss keeps the single-loss seed of each batch (by its start); a later one adds its own name.
    expect(calls.map((c) => c.seed)).toEqual([0, 0, 4, 4, 8, 8].map((start, i) => (i % 2 === 0 ? deriveSeed(7, 'pgd', 0.1, start) : deriveSeed(7, 'pgd', 0.1, start, 'margin'))));
    expect(calls.every((c) => c.eps === 0.1)).toBe(true);
  });

  it('the order of the losses is the order of the stages; a stage with nothing left standing is skipped', async () => {
    const calls: Array<{ loss: string | undefined; rows: number; seed: number; eps: number }> = [];
    // All tagged 2: the margin stage first fools everyone, the ce stage never runs.
    const stages = await adversarialAccuracyByLoss(model, tagged([2, 2, 2, 2, 2]), scripted(calls), params, ['margin', 'ce']);
    expect(stages).toEqual([0, 0]);
    expect(calls.map((c) => c.loss)).toEqual(['margin', 'margin']);
    expect(calls[0].seed).toBe(deriveSeed(7, 'pgd', 0.1, 0));
  });

  it('one loss: one stage; no examples: zeros; no losses: a typed error; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    expect(await adversarialAccuracyByLoss(model, tagged(tags), scripted([]), params, ['margin'])).toEqual([7 / 10]);
    expect(await adversarialAccuracyByLoss(model, tagged([]), scripted([]), params, ['ce', 'margin'])).toEqual([0, 0]);
    const err = await adversarialAccuracyByLoss(model, tagged(tags), scripted([]), params, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FedtuneError);
    expect((err as FedtuneError).message).toBe('an attack needs at least one loss');
    expect((err as FedtuneError).code).toBe('config');
    expect(tf.memory().numTensors).toBe(before);
  });
});
