import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import {
  adversarialPlan,
  ADVERSARIAL_DEFAULTS,
  dataStd,
  fitLocal,
  readModelWeights,
  subset,
  tradesAdversarial,
  tradesKlTerm,
  TrainConfig,
  warmedUpTrain,
  type Dataset,
} from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

let site: Dataset;
const base: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed: 3, maxExamples: 48 };
type Adversarial = NonNullable<TrainConfig['adversarial']>;
const pgd7: Adversarial = { method: 'pgd', share: 1, eps: 0.1, steps: 2 };

beforeAll(async () => {
  await selectNodeBackend();
  site = subset(builtinDigitsSites({ sites: 8, partition: { kind: 'iid' }, seed: 42 })[0], Array.from({ length: 96 }, (_, i) => i));
});

async function trainedWeights(config: TrainConfig): Promise<Float32Array[]> {
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  try {
    await fitLocal(model, site, config);
    return readModelWeights(model).arrays;
  } finally {
    model.dispose();
  }
}

function distance(a: Float32Array[], b: Float32Array[]): number {
  let s = 0;
  a.forEach((w, i) => w.forEach((v, j) => (s += (v - b[i][j]) ** 2)));
  return Math.sqrt(s);
}

describe('TrainConfig.adversarial', () => {
  it('an old config parses unchanged; method and share default to PGD on every example', () => {
    const old = { ...base, adversarial: { method: 'fgsm', share: 0.5, eps: 0.1 } };
    expect(TrainConfig.parse(old)).toEqual(old);
    expect(TrainConfig.parse({ ...base, adversarial: { eps: 0.05 } }).adversarial).toEqual({ method: 'pgd', share: 1, eps: 0.05 });
  });

  it.each([
    ['an unknown method', { method: 'cw', eps: 0.1 }],
    ['an unknown norm', { eps: 0.1, norm: 'l1' }],
    ['unknown units', { eps: 0.1, epsUnits: 'pixels' }],
    ['an L∞ ε above 1 in absolute units', { eps: 1.5 }],
    ['a negative β', { method: 'trades', eps: 0.1, beta: -1 }],
    ['β without TRADES', { method: 'pgd', eps: 0.1, beta: 6 }],
    ['a warm-up of 0 rounds', { eps: 0.1, warmupRounds: 0 }],
    ['a non-finite ε', { eps: Number.NaN }],
    ['a negative AWP γ', { eps: 0.1, awp: -0.01 }],
    ['an AWP γ above 1', { eps: 0.1, awp: 2 }],
  ])('refuses %s', (_, adversarial) => {
    expect(TrainConfig.safeParse({ ...base, adversarial }).success).toBe(false);
  });

  it('accepts an L2 ε above 1, and an L∞ ε above 1 in data-std units', () => {
    expect(TrainConfig.safeParse({ ...base, adversarial: { eps: 2, norm: 'l2' } }).success).toBe(true);
    expect(TrainConfig.safeParse({ ...base, adversarial: { eps: 1.5, epsUnits: 'data-std' } }).success).toBe(true);
  });
});

describe('adversarialPlan', () => {
  it('resolves an old config exactly as before: PGD-7 of 2.5·ε/7, FGSM one step of ε, absolute L∞', () => {
    const p = adversarialPlan({ ...base, adversarial: { method: 'pgd', share: 0.5, eps: 0.1 } }, site)!;
    expect([p.attack.name, p.steps, p.stepSize, p.eps, p.scale]).toEqual(['pgd', 7, (2.5 * 0.1) / 7, 0.1, undefined]);
    const f = adversarialPlan({ ...base, adversarial: { method: 'fgsm', share: 1, eps: 0.2 } }, site)!;
    expect([f.attack.name, f.steps, f.stepSize]).toEqual(['fgsm', 1, 0.2]);
    expect(ADVERSARIAL_DEFAULTS).toEqual({ steps: 7, beta: 6, norm: 'linf', epsUnits: 'absolute', awp: 0, attackLoss: 'ce' });
  });

  it('trains nothing adversarially at share 0 or ε 0', () => {
    expect(adversarialPlan({ ...base, adversarial: { ...pgd7, share: 0 } }, site)).toBeUndefined();
    expect(adversarialPlan({ ...base, adversarial: { ...pgd7, eps: 0 } }, site)).toBeUndefined();
  });

  it('units: data-std multiplies ε and the step by the pixel std; feature-std passes each feature\'s std as the scale', () => {
    const std = dataStd(site);
    expect(std).toBeGreaterThan(0.1);
    const d = adversarialPlan({ ...base, adversarial: { ...pgd7, stepSize: 0.02, epsUnits: 'data-std' } }, site)!;
    expect([d.eps, d.stepSize, d.unitScale, d.scale]).toEqual([0.1 * std, 0.02 * std, std, undefined]);
    const f = adversarialPlan({ ...base, adversarial: { ...pgd7, epsUnits: 'feature-std' } }, site)!;
    expect(f.eps).toBe(0.1);
    expect(f.scale).toHaveLength(784);
  });

  it('norm l2 picks the L2 attacks, TRADES takes β (default 6)', () => {
    expect(adversarialPlan({ ...base, adversarial: { ...pgd7, norm: 'l2' } }, site)!.attack.name).toBe('pgd-l2');
    expect(adversarialPlan({ ...base, adversarial: { ...pgd7, method: 'fgsm', norm: 'l2' } }, site)!.attack.name).toBe('fgm-l2');
    expect(adversarialPlan({ ...base, adversarial: { ...pgd7, method: 'trades' } }, site)!.beta).toBe(6);
    expect(adversarialPlan({ ...base, adversarial: { ...pgd7, method: 'trades', beta: 2 } }, site)!.beta).toBe(2);
  });
});

describe('every adversarial option changes the trained weights', () => {
  const reference: Adversarial = { method: 'pgd', share: 1, eps: 0.1, steps: 2 };
  it.each<[string, Partial<Adversarial>]>([
    ['method fgsm', { method: 'fgsm' }],
    ['method trades', { method: 'trades' }],
    ['share', { share: 0.5 }],
    ['eps', { eps: 0.2 }],
    ['steps', { steps: 3 }],
    ['stepSize', { stepSize: 0.01 }],
    ['norm l2', { norm: 'l2', eps: 2 }],
    ['epsUnits data-std', { epsUnits: 'data-std' }],
    ['epsUnits feature-std', { epsUnits: 'feature-std' }],
    ['awp', { awp: 0.01 }],
    ['attackLoss margin', { attackLoss: 'margin' }],
    ['attackLoss mixed', { attackLoss: 'mixed' }],
  ])('%s', async (_, change) => {
    const a = await trainedWeights({ ...base, adversarial: reference });
    const b = await trainedWeights({ ...base, adversarial: { ...reference, ...change } });
    expect(distance(a, b)).toBeGreaterThan(1e-6);
  });

  it('TRADES β', async () => {
    const a = await trainedWeights({ ...base, adversarial: { ...reference, method: 'trades', beta: 1 } });
    const b = await trainedWeights({ ...base, adversarial: { ...reference, method: 'trades', beta: 6 } });
    expect(distance(a, b)).toBeGreaterThan(1e-6);
  });

  it('the defaults spelled out train the same weights as an old config (bit for bit)', async () => {
    const old = await trainedWeights({ ...base, adversarial: { method: 'pgd', share: 0.5, eps: 0.1 } });
    const explicit = await trainedWeights({ ...base, adversarial: { method: 'pgd', share: 0.5, eps: 0.1, steps: 7, stepSize: (2.5 * 0.1) / 7, norm: 'linf', epsUnits: 'absolute' } });
    expect(distance(old, explicit)).toBe(0);
  });

  it('data-std ε is the absolute ε × the site\'s pixel std (bit for bit)', async () => {
    const std = dataStd(site);
    const relative = await trainedWeights({ ...base, adversarial: { ...reference, stepSize: 0.03, epsUnits: 'data-std' } });
    const absolute = await trainedWeights({ ...base, adversarial: { ...reference, eps: 0.1 * std, stepSize: 0.03 * std } });
    expect(distance(relative, absolute)).toBe(0);
  });

  it('leaks no tensors with TRADES and L2 attacks', async () => {
    await trainedWeights({ ...base, adversarial: { ...reference, method: 'trades', norm: 'l2', eps: 1 } });
    const before = tf.memory().numTensors;
    await trainedWeights({ ...base, adversarial: { ...reference, method: 'trades' } });
    await trainedWeights({ ...base, adversarial: { ...reference, norm: 'l2', eps: 1, epsUnits: 'feature-std' } });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('AWP with DP-SGD is refused with a config error', async () => {
    await expect(trainedWeights({ ...base, adversarial: { ...reference, awp: 0.01 }, dpSgd: { clip: 1, noiseMultiplier: 1 } })).rejects.toMatchObject({ code: 'config' });
  });

  it('attackLoss ce trains the same weights as no attackLoss (bit for bit)', async () => {
    const without = await trainedWeights({ ...base, adversarial: reference });
    const ce = await trainedWeights({ ...base, adversarial: { ...reference, attackLoss: 'ce' } });
    expect(distance(without, ce)).toBe(0);
  });

  it('AWP γ 0 trains the same weights as no AWP (bit for bit), and leaks no tensors', async () => {
    const without = await trainedWeights({ ...base, adversarial: reference });
    const before = tf.memory().numTensors;
    const zero = await trainedWeights({ ...base, adversarial: { ...reference, awp: 0 } });
    await trainedWeights({ ...base, adversarial: { ...reference, awp: 0.02, method: 'trades' } });
    expect(tf.memory().numTensors).toBe(before);
    expect(distance(without, zero)).toBe(0);
  });

  it('TRADES with DP-SGD is refused with a config error', async () => {
    await expect(trainedWeights({ ...base, adversarial: { ...reference, method: 'trades' }, dpSgd: { clip: 1, noiseMultiplier: 1 } })).rejects.toMatchObject({ code: 'config' });
  });
});

describe('TRADES', () => {
  it('the KL term is β/n · Σ KL(p(x) ‖ p(x′)) over the partners', () => {
    const clean = tf.tensor2d([[2, 0, 0], [0, 1, 0], [0, 0, 3]]);
    const adv = tf.tensor2d([[0, 2, 0], [0, 1, 0]]);
    const p = [[2, 0, 0], [0, 1, 0]].map((r) => r.map(Math.exp)).map((r) => r.map((v) => v / r.reduce((a, b) => a + b)));
    const q = [[0, 2, 0], [0, 1, 0]].map((r) => r.map(Math.exp)).map((r) => r.map((v) => v / r.reduce((a, b) => a + b)));
    let kl = 0;
    p.forEach((r, i) => r.forEach((v, j) => (kl += v * Math.log(v / q[i][j]))));
    const term = tradesKlTerm(clean, adv, 6);
    expect(term.dataSync()[0]).toBeCloseTo((6 / 3) * kl, 5);
    tf.dispose([clean, adv, term]);
  });

  it('the inner maximisation raises the KL above a random point of the same ball, and stays in the ball', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const x = tf.tensor(site.x.subarray(0, 32 * 784), [32, 784]);
    const plan = adversarialPlan({ ...base, adversarial: { method: 'trades', share: 1, eps: 0.1, steps: 5 } }, site)!;
    const found = tradesAdversarial(model, x, plan, 1, 0, 1);
    const start = adversarialPlan({ ...base, adversarial: { method: 'trades', share: 1, eps: 0.1, steps: 1, stepSize: 1e-9 } }, site)!;
    const random = tradesAdversarial(model, x, start, 1, 0, 1);
    const kl = (xa: tf.Tensor) => tf.tidy(() => tradesKlTerm(model.predict(x) as tf.Tensor, model.predict(xa) as tf.Tensor, 1).dataSync()[0]);
    expect(kl(found)).toBeGreaterThan(2 * kl(random));
    expect(tf.max(tf.abs(tf.sub(found, x))).dataSync()[0]).toBeLessThanOrEqual(0.1 + 1e-6);
    tf.dispose([x, found, random]);
    model.dispose();
  });
});

describe('warmedUpTrain', () => {
  const train = { ...base, adversarial: { ...pgd7, eps: 0.12, stepSize: 0.03, warmupRounds: 4 } };
  it.each([
    [1, 0.03, 0.0075],
    [2, 0.06, 0.015],
    [4, 0.12, 0.03],
    [9, 0.12, 0.03],
  ])('round %i trains at ε %f with step %f', (round, eps, step) => {
    const a = warmedUpTrain(train, round).adversarial!;
    expect(a.eps).toBeCloseTo(eps, 12);
    expect(a.stepSize).toBeCloseTo(step, 12);
  });
  it('leaves a config without warm-up (or without adversarial training) as it is', () => {
    const plain = { ...base, adversarial: pgd7 };
    expect(warmedUpTrain(plain, 1)).toBe(plain);
    expect(warmedUpTrain(base, 1)).toBe(base);
  });
});
