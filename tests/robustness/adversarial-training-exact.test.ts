import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { siteTrainConfig } from '../../shared/src/client/site-train-config.ts';
import type { Dataset } from '../../shared/src/data/dataset.ts';
import { adversarialPlan, type AdversarialPlan } from '../../shared/src/learning/adversarial-plan.ts';
import { warmedUpTrain } from '../../shared/src/learning/adversarial-warmup.ts';
import { tradesAdversarial, tradesKlTerm } from '../../shared/src/learning/trades-step.ts';
import { AdversarialTraining, type TrainConfig } from '../../shared/src/messages/schemas.ts';
import type { Attack, AttackParams } from '../../shared/src/robustness/attacks/attack.ts';
import { fgmL2 } from '../../shared/src/robustness/attacks/fgm-l2.ts';
import { fgsm } from '../../shared/src/robustness/attacks/fgsm.ts';
import { pgdL2 } from '../../shared/src/robustness/attacks/pgd-l2.ts';
import { pgd } from '../../shared/src/robustness/attacks/pgd.ts';

// The adversarial-training settings resolved by hand (the fast, exact tests `npm run mutation --
// adversarial-training` runs): the plan a site fits with, the ε warm-up, TRADES's two halves and the
// precedence of a site's own settings. No training: tests/robustness/adversarial-training-options.test.ts
// shows each option changes the trained weights.
type Adversarial = NonNullable<TrainConfig['adversarial']>;
const base: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 3 };
const withAdv = (adversarial: Adversarial): TrainConfig => ({ ...base, adversarial });

// Two features, two examples: feature stds 0.5 and 0.25 (mean 0.375); all four values pooled: std √0.171875.
const data: Dataset = { x: Float32Array.from([0, 1, 1, 0.5]), y: Int32Array.from([0, 1]), featureShape: [2], numClasses: 2 };
const POOLED = Math.sqrt(0.171875);

describe('adversarialPlan', () => {
  it('trains nothing adversarially without settings, at share 0 or at ε 0', () => {
    expect(adversarialPlan(base, data)).toBeUndefined();
    expect(adversarialPlan(withAdv({ method: 'pgd', share: 0, eps: 0.1 }), data)).toBeUndefined();
    expect(adversarialPlan(withAdv({ method: 'pgd', share: 1, eps: 0 }), data)).toBeUndefined();
    expect(adversarialPlan(withAdv({ method: 'pgd', share: 0.01, eps: 0.001 }), data)).toBeDefined();
  });

  it.each<[string, Adversarial, AdversarialPlan]>([
    ['PGD with the defaults: 7 steps of 2.5·ε/7, L∞, absolute', { method: 'pgd', share: 0.5, eps: 0.1 }, { method: 'pgd', share: 0.5, attack: pgd, eps: 0.1, steps: 7, stepSize: (2.5 * 0.1) / 7, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['PGD with its own steps: the step is 2.5·ε/steps', { method: 'pgd', share: 1, eps: 0.2, steps: 4 }, { method: 'pgd', share: 1, attack: pgd, eps: 0.2, steps: 4, stepSize: 0.125, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['PGD with its own step size', { method: 'pgd', share: 1, eps: 0.2, steps: 3, stepSize: 0.02 }, { method: 'pgd', share: 1, attack: pgd, eps: 0.2, steps: 3, stepSize: 0.02, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['FGSM: one step of ε whatever steps and step size say', { method: 'fgsm', share: 1, eps: 0.2, steps: 5, stepSize: 0.01 }, { method: 'fgsm', share: 1, attack: fgsm, eps: 0.2, steps: 1, stepSize: 0.2, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['L∞ spelled out', { method: 'pgd', share: 1, eps: 0.1, steps: 2, norm: 'linf', epsUnits: 'absolute' }, { method: 'pgd', share: 1, attack: pgd, eps: 0.1, steps: 2, stepSize: 0.125, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['PGD, L2', { method: 'pgd', share: 1, eps: 2, steps: 5, norm: 'l2' }, { method: 'pgd', share: 1, attack: pgdL2, eps: 2, steps: 5, stepSize: 1, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['FGSM, L2 (FGM)', { method: 'fgsm', share: 1, eps: 2, norm: 'l2' }, { method: 'fgsm', share: 1, attack: fgmL2, eps: 2, steps: 1, stepSize: 2, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['TRADES: PGD on the KL, β 6 by default', { method: 'trades', share: 1, eps: 0.1, steps: 5 }, { method: 'trades', share: 1, attack: pgd, eps: 0.1, steps: 5, stepSize: 0.05, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce' }],
    ['AWP γ rides along with any method', { method: 'fgsm', share: 1, eps: 0.2, awp: 0.005 }, { method: 'fgsm', share: 1, attack: fgsm, eps: 0.2, steps: 1, stepSize: 0.2, beta: 6, unitScale: 1, awp: 0.005, attackLoss: 'ce' }],
    ['PGD on the margin', { method: 'pgd', share: 1, eps: 0.1, steps: 5, attackLoss: 'margin' }, { method: 'pgd', share: 1, attack: pgd, eps: 0.1, steps: 5, stepSize: 0.05, beta: 6, unitScale: 1, awp: 0, attackLoss: 'margin' }],
    ['TRADES, L2, β 2', { method: 'trades', share: 1, eps: 1, steps: 5, norm: 'l2', beta: 2 }, { method: 'trades', share: 1, attack: pgdL2, eps: 1, steps: 5, stepSize: 0.5, beta: 2, unitScale: 1, awp: 0, attackLoss: 'ce' }],
  ])('%s', (_, adversarial, want) => {
    expect(adversarialPlan(withAdv(adversarial), data)).toStrictEqual(want);
  });

  it('data-std: ε and the step become absolute (× the pooled std), no per-feature scale', () => {
    const p = adversarialPlan(withAdv({ method: 'pgd', share: 1, eps: 0.5, steps: 5, epsUnits: 'data-std' }), data)!;
    expect(Object.keys(p).sort()).toEqual(['attack', 'attackLoss', 'awp', 'beta', 'eps', 'method', 'share', 'stepSize', 'steps', 'unitScale']);
    expect(p.eps).toBeCloseTo(0.5 * POOLED, 6);
    expect(p.stepSize).toBeCloseTo(0.25 * POOLED, 6);
    expect(p.unitScale).toBeCloseTo(POOLED, 6);
    const f = adversarialPlan(withAdv({ method: 'fgsm', share: 1, eps: 0.5, epsUnits: 'data-std' }), data)!;
    expect([f.eps, f.stepSize]).toEqual([expect.closeTo(0.5 * POOLED, 6), expect.closeTo(0.5 * POOLED, 6)]);
  });

  it('feature-std: ε and the step stay in units, each feature\'s std is the attack\'s scale, the mean std the unit scale', () => {
    const p = adversarialPlan(withAdv({ method: 'pgd', share: 1, eps: 0.5, steps: 5, stepSize: 0.2, epsUnits: 'feature-std' }), data)!;
    expect([p.attack, p.eps, p.stepSize, p.unitScale]).toEqual([pgd, 0.5, 0.2, 0.375]);
    expect(Array.from(p.scale!)).toEqual([0.5, 0.25]);
  });
});

describe('warmedUpTrain', () => {
  const train = withAdv({ method: 'pgd', share: 1, eps: 0.12, stepSize: 0.03, warmupRounds: 4 });

  it.each([
    [0, 0.03, 0.0075],
    [1, 0.03, 0.0075],
    [2, 0.06, 0.015],
    [3, 0.09, 0.0225],
  ])('round %i of a 4-round warm-up trains at ε %f with step %f (the rest unchanged)', (round, eps, stepSize) => {
    const out = warmedUpTrain(train, round);
    expect(out).toStrictEqual({ ...train, adversarial: { ...train.adversarial, eps: expect.closeTo(eps, 12), stepSize: expect.closeTo(stepSize, 12) } });
    expect(train.adversarial!.eps).toBe(0.12);
  });

  it('from round k on, the config itself (ε in full)', () => {
    expect(warmedUpTrain(train, 4)).toBe(train);
    expect(warmedUpTrain(train, 5)).toBe(train);
  });

  it('without an explicit step size only ε ramps (no step size appears)', () => {
    const noStep = withAdv({ method: 'pgd', share: 1, eps: 0.1, warmupRounds: 2 });
    expect(warmedUpTrain(noStep, 1)).toStrictEqual(withAdv({ method: 'pgd', share: 1, eps: 0.05, warmupRounds: 2 }));
  });

  it('nothing to ramp: no adversarial training, no warm-up, or a warm-up of one round', () => {
    expect(warmedUpTrain(base, 1)).toBe(base);
    const plain = withAdv({ method: 'pgd', share: 1, eps: 0.1 });
    expect(warmedUpTrain(plain, 1)).toBe(plain);
    const one = withAdv({ method: 'pgd', share: 1, eps: 0.1, warmupRounds: 1 });
    expect(warmedUpTrain(one, 1)).toBe(one);
  });
});

describe('TRADES', () => {
  let model: tf.LayersModel;
  let x: tf.Tensor;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] })] });
    model.setWeights([tf.tensor2d([[1, -1, 0.5], [0.2, 2, -1]]), tf.tensor1d([0.1, 0, -0.3])]);
    x = tf.tensor2d([[0.2, 0.9], [0.7, 0.1]]);
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  const softmax = (r: number[]) => {
    const e = r.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const kl = (a: number[], b: number[]) => {
    const p = softmax(a);
    const q = softmax(b);
    return p.reduce((s, v, j) => s + v * Math.log(v / q[j]), 0);
  };

  it.each([
    ['k < n', [[2, 0, 0], [0, 1, 0], [0, 0, 3]], [[0, 2, 0], [0, 1, 0]], 6],
    ['k = n', [[2, 0, 0], [1, 1, 0]], [[0, 2, 0], [0, 0.5, 3]], 0.5],
    ['one partner', [[1, 2, 3], [0, 0, 0], [3, 2, 1], [0, 1, 0]], [[3, 2, 1]], 2],
  ])('the KL term is β/n · Σ KL(p(x) ‖ p(x′)) over the first k examples (%s)', (_, clean, adv, beta) => {
    const before = tf.memory().numTensors;
    const term = tf.tidy(() => tradesKlTerm(tf.tensor2d(clean), tf.tensor2d(adv), beta));
    const want = (beta / clean.length) * adv.reduce((s, row, i) => s + kl(clean[i], row), 0);
    expect(term.shape).toEqual([]);
    expect(term.dataSync()[0]).toBeCloseTo(want, 5);
    term.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the KL term is differentiable in both logits; the examples without a partner get no gradient from it', () => {
    const clean = tf.tensor2d([[2, 0, 0], [0, 1, 0], [0, 0, 3]]);
    const adv = tf.tensor2d([[0, 2, 0], [0, 1, 0]]);
    const [gClean, gAdv] = tf.grads((c: tf.Tensor, a: tf.Tensor) => tradesKlTerm(c, a, 6))([clean, adv]);
    const rows = gClean.arraySync() as number[][];
    expect(rows[2]).toEqual([0, 0, 0]);
    expect(Math.max(...rows[0].map(Math.abs))).toBeGreaterThan(0.01);
    expect(Math.max(...(gAdv.arraySync() as number[][])[0].map(Math.abs))).toBeGreaterThan(0.01);
    // The partner identical to its clean logits' row contributes neither KL nor gradient.
    expect((gAdv.arraySync() as number[][])[1].map((v) => Math.abs(v) < 1e-6)).toEqual([true, true, true]);
    tf.dispose([clean, adv, gClean, gAdv]);
  });

  /** An attack that records what it is given and returns x + 1. */
  function recorder(): { attack: Attack; calls: { soft: number[][]; params: AttackParams }[] } {
    const calls: { soft: number[][]; params: AttackParams }[] = [];
    const attack: Attack = {
      name: 'pgd',
      reference: 'test',
      run(_m, input, onehot, params) {
        calls.push({ soft: onehot.arraySync() as number[][], params });
        return tf.add(input, 1);
      },
    };
    return { attack, calls };
  }
  const plan = (attack: Attack, extra: Partial<AdversarialPlan> = {}): AdversarialPlan => ({ method: 'trades', share: 1, attack, eps: 0.1, steps: 3, stepSize: 0.04, beta: 6, unitScale: 1, awp: 0, attackLoss: 'ce', ...extra });

  it('the inner maximisation runs the plan\'s attack against the soft labels p(x), with the plan\'s ε, steps, step size and the range', () => {
    const { attack, calls } = recorder();
    const before = tf.memory().numTensors;
    const out = tradesAdversarial(model, x, plan(attack), 11, -1, 2);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(out.arraySync()).toEqual([[expect.closeTo(1.2, 6), expect.closeTo(1.9, 6)], [expect.closeTo(1.7, 6), expect.closeTo(1.1, 6)]]);
    out.dispose();
    expect(calls).toHaveLength(1);
    expect(calls[0].params).toStrictEqual({ eps: 0.1, steps: 3, stepSize: 0.04, seed: 11, clipMin: -1, clipMax: 2 });
    const logits = [[0.2 + 0.18 + 0.1, -0.2 + 1.8, 0.1 - 0.9 - 0.3], [0.7 + 0.02 + 0.1, -0.7 + 0.2, 0.35 - 0.1 - 0.3]];
    calls[0].soft.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(softmax(logits[i])[j], 5)));
  });

  it('passes the plan\'s per-feature scale on (feature-std units)', () => {
    const { attack, calls } = recorder();
    const scale = Float32Array.from([0.5, 2]);
    tradesAdversarial(model, x, plan(attack, { scale }), 1, 0, 1).dispose();
    expect(calls[0].params).toStrictEqual({ eps: 0.1, steps: 3, stepSize: 0.04, seed: 1, clipMin: 0, clipMax: 1, scale });
  });

  it('disposes the soft labels even when the attack throws', () => {
    const failing: Attack = { name: 'pgd', reference: 'test', run: () => { throw new Error('attack failed'); } };
    const before = tf.memory().numTensors;
    expect(() => tradesAdversarial(model, x, plan(failing), 1, 0, 1)).toThrow('attack failed');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with the real PGD it is PGD against p(x) (the same seed gives the same point)', () => {
    const soft = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor));
    const want = pgd.run(model, x, soft, { eps: 0.1, steps: 3, stepSize: 0.04, seed: 5, clipMin: 0, clipMax: 1 });
    const got = tradesAdversarial(model, x, plan(pgd), 5, 0, 1);
    expect(got.arraySync()).toEqual(want.arraySync());
    tf.dispose([soft, want, got]);
  });
});

describe('siteTrainConfig: site flag > coordinator instruction', () => {
  const instruction = withAdv({ method: 'pgd', share: 1, eps: 0.02, steps: 7, warmupRounds: 5 });
  const { adversarial: _, ...plain } = instruction;
  const PREFIX = "this site's adversarial settings: ";

  it('overrides only the fields the site gives and keeps the rest of the instruction', () => {
    expect(siteTrainConfig(instruction, { steps: 3, norm: 'l2' }, 2)).toStrictEqual({ ...instruction, adversarial: { ...instruction.adversarial!, steps: 3, norm: 'l2' } });
  });

  it('a site\'s own ε is warmed up for the round; the coordinator\'s (already warmed up) is not ramped again', () => {
    expect(siteTrainConfig(instruction, { eps: 0.1 }, 2)).toStrictEqual({ ...instruction, adversarial: { ...instruction.adversarial!, eps: expect.closeTo(0.04, 12) } });
    expect(siteTrainConfig(instruction, { share: 0.5 }, 2).adversarial!.eps).toBe(0.02);
    expect(siteTrainConfig(plain, { eps: 0.1, warmupRounds: 4 }, 1)).toStrictEqual({ ...plain, adversarial: { method: 'pgd', share: 1, eps: 0.025, warmupRounds: 4 } });
  });

  it('fields without an ε under an instruction without adversarial training: one clear config error', () => {
    expect(() => siteTrainConfig(plain, { steps: 3 }, 1)).toThrow(
      expect.objectContaining({ code: 'config', message: "this site's adversarial settings need an ε (--adv-eps): the coordinator's instruction has no adversarial training" }),
    );
  });

  it('refused settings: each issue as "field: reason", joined by "; "', () => {
    const bad = { share: 2, steps: 0 };
    const issues = AdversarialTraining.safeParse({ ...instruction.adversarial, ...bad }).error!.issues;
    expect(issues.map((i) => i.path)).toEqual([['share'], ['steps']]);
    expect(() => siteTrainConfig(instruction, bad, 1)).toThrow(expect.objectContaining({ code: 'config', message: `${PREFIX}share: ${issues[0].message}; steps: ${issues[1].message}` }));
    expect(() => siteTrainConfig(instruction, { beta: 2 }, 1)).toThrow(`${PREFIX}beta: beta is the weight of TRADES's KL term: it needs method "trades"`);
  });

  it('a hostile site config gets a message of at most 500 characters after the prefix', () => {
    const hostile = { method: 'cw', share: 'x', eps: 'x', steps: 'x', stepSize: 'x', norm: 'l1', beta: 'x', epsUnits: 'px', warmupRounds: 'x' } as unknown as Partial<Adversarial>;
    const issues = AdversarialTraining.safeParse(hostile).error!.issues;
    const full = issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    expect(full.length).toBeGreaterThan(500);
    let message = '';
    try {
      siteTrainConfig(instruction, hostile, 1);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(`${PREFIX}${full.slice(0, 500)}`);
  });
});
