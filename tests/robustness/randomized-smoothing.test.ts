import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { certifyExample, certifySmoothed, clopperPearsonLower, CertificationReportSchema, evaluateRobustness, normalQuantile, RobustnessReportSchema, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';

const K = 4;
const F = 6;

/** A dense model f(x) = x·W + b. */
function denseModel(kernel: number[][], bias: number[]): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [F], units: K })] });
  model.layers[0].setWeights([tf.tensor2d(kernel), tf.tensor1d(bias)]);
  return model;
}

/** Always class 1: no weights on the input, a bias that makes class 1 win. */
const constantModel = () => denseModel(Array.from({ length: F }, () => new Array(K).fill(0)), [0, 5, 0, 0]);

function dataset(labels: number[], seed = 1): Dataset {
  const x = new Float32Array(labels.length * F);
  let s = seed;
  for (let i = 0; i < x.length; i++) x[i] = ((s = (s * 16807) % 2147483647) / 2147483647);
  return { x, y: Int32Array.from(labels), featureShape: [F], numClasses: K };
}

beforeAll(async () => {
  await selectNodeBackend();
});

describe('randomized smoothing (CERTIFY, Cohen et al. 2019)', () => {
  const settings = { sigma: 0.5, n0: 20, n: 200, alpha: 0.01, radii: [0, 0.5, 1, 1.5, 2], examples: 50, batchSize: 64, seed: 3 };

  it('a constant classifier certifies every correctly labelled example at σ·Φ⁻¹(CP lower bound of n/n)', async () => {
    const model = constantModel();
    try {
      const expected = settings.sigma * normalQuantile(clopperPearsonLower(settings.n, settings.n, settings.alpha));
      const c = certifyExample(model, new Float32Array(F), K, settings);
      expect(c.prediction).toBe(1);
      expect(c.radius).toBeCloseTo(expected, 12);
      expect(c.pALower).toBeCloseTo(settings.alpha ** (1 / settings.n), 12);
      // 3 of 4 examples are labelled 1: certified accuracy 3/4 up to that radius, 0 beyond it.
      const r = await certifySmoothed(model, dataset([1, 1, 0, 1]), { ...settings, radii: [0, expected, expected + 1e-9] });
      expect(() => CertificationReportSchema.parse(r)).not.toThrow();
      expect(r.radii.map((x) => x.accuracy)).toEqual([0.75, 0.75, 0]);
      expect(r.abstainRate).toBe(0);
      expect(r.examples).toBe(4);
      expect(r.maxRadius).toBeCloseTo(expected, 12);
      expect(r.meanRadius).toBeCloseTo(expected, 12);
      expect([r.sigma, r.n0, r.n, r.alpha, r.seed]).toEqual([settings.sigma, settings.n0, settings.n, settings.alpha, settings.seed]);
    } finally {
      model.dispose();
    }
  });

  it('a classifier decided by the noise abstains', async () => {
    // Huge weights on the input and σ = 10: the predicted class is as good as random among 4 → pA ≈ 1/4.
    const model = denseModel(Array.from({ length: F }, (_, i) => Array.from({ length: K }, (_, c) => Math.sin(7 * i + 3 * c) * 100)), [0, 0, 0, 0]);
    try {
      const r = await certifySmoothed(model, dataset([0, 1, 2, 3, 0, 1]), { ...settings, sigma: 10 });
      expect(r.abstainRate).toBe(1);
      expect(r.radii.every((x) => x.accuracy === 0)).toBe(true);
      expect(r.meanRadius).toBe(0);
    } finally {
      model.dispose();
    }
  });

  it('refuses bad settings with a config error naming the field', async () => {
    const model = constantModel();
    try {
      for (const [field, bad] of [['sigma', 0], ['n0', 0], ['n', 1.5], ['alpha', 1], ['radii', [-1]], ['batchSize', 0], ['examples', 0]] as const) {
        await expect(certifySmoothed(model, dataset([1]), { [field]: bad })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining(field) });
      }
    } finally {
      model.dispose();
    }
  });
});

describe('randomized smoothing of the committed pretrained MLP', () => {
  let model: tf.LayersModel;
  const holdout = () => builtinDigits().holdout;
  const settings = { sigma: 0.25, n0: 20, n: 200, alpha: 0.01, radii: [0, 0.1, 0.25, 0.5, 1], examples: 24, batchSize: 110, seed: 5 };

  beforeAll(async () => {
    model = await loadModelDir(pretrainedModelDir('mlp'));
  });

  it('certified accuracy never rises with the radius, is reproducible with the seed, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const a = await certifySmoothed(model, holdout(), settings);
    expect(tf.memory().numTensors).toBe(before);
    const accuracies = a.radii.map((r) => r.accuracy);
    for (let i = 1; i < accuracies.length; i++) expect(accuracies[i]).toBeLessThanOrEqual(accuracies[i - 1]);
    expect(accuracies[0]).toBeGreaterThan(0.5);
    // Beyond the largest radius n samples can certify, nothing is certified.
    expect(a.maxRadius).toBeLessThan(1);
    expect(accuracies[accuracies.length - 1]).toBe(0);
    const again = await certifySmoothed(model, holdout(), settings);
    expect(again.radii).toEqual(a.radii);
    expect(again.meanRadius).toBe(a.meanRadius);
    // Another seed draws other examples and other noise.
    const other = await certifySmoothed(model, holdout(), { ...settings, seed: 6 });
    expect(other.meanRadius).not.toBe(a.meanRadius);
  });

  it('more noise samples certify larger radii (the bound tightens with n)', async () => {
    const x = holdout().x.subarray(0, 784);
    const small = certifyExample(model, x, 10, { ...settings, n: 50 });
    const large = certifyExample(model, x, 10, { ...settings, n: 400 });
    expect(large.prediction).toBe(small.prediction);
    expect(large.radius).toBeGreaterThan(small.radius);
  });

  it('evaluateRobustness runs it only when asked (option certify), on the same sample', async () => {
    const options = { examples: 12, adversarialExamples: 0, noise: false, corruptions: false, fgsm: false, pgd: false } as const;
    const plain = await evaluateRobustness(model, holdout(), options);
    expect(plain.certification).toBeUndefined();
    const before = tf.memory().numTensors;
    const certified = await evaluateRobustness(model, holdout(), { ...options, certify: { ...settings, examples: 5 }, calibration: { temperature: 2, source: 'override', fittedOn: 0 } });
    // Smoothing and the calibration part's logits leak no tensors.
    expect(tf.memory().numTensors).toBe(before);
    expect(certified.calibration?.temperature).toBe(2);
    expect(() => RobustnessReportSchema.parse(certified)).not.toThrow();
    expect(certified.certification?.examples).toBe(5);
    expect(certified.certification?.sigma).toBe(0.25);
  });
});
