import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { evaluateRobustness, fgsm, pgd, type Dataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

/** A linear 2-class model on 3 features whose scales differ by 1000×. */
function tabular(): { model: tf.LayersModel; data: Dataset } {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, useBias: false })] });
  model.setWeights([tf.tensor2d([[1, -1], [0.001, -0.001], [1000, -1000]], [3, 2])]);
  const n = 40;
  const x = new Float32Array(n * 3);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const sign = y[i] === 0 ? 1 : -1;
    x[i * 3] = sign * (1 + (i % 5) * 0.1);
    x[i * 3 + 1] = sign * (1000 + (i % 7) * 100);
    x[i * 3 + 2] = sign * (0.001 + (i % 3) * 0.0001);
  }
  return { model, data: { x, y, featureShape: [3], numClasses: 2 } };
}

describe('ε relative to each feature\'s spread', () => {
  it('FGSM and PGD move feature j by at most ε × scale[j]', async () => {
    await selectNodeBackend();
    const { model, data } = tabular();
    const x = tf.tensor2d(data.x.subarray(0, 12), [4, 3]);
    const onehot = tf.oneHot(tf.tensor1d(data.y.subarray(0, 4), 'int32'), 2).toFloat();
    const scale = Float32Array.from([2, 1000, 0.001]);
    for (const attack of [fgsm, pgd]) {
      const adv = attack.run(model, x, onehot, { eps: 0.5, steps: 5, stepSize: 0.2, seed: 1, clipMin: -1e9, clipMax: 1e9, scale });
      const delta = (await tf.abs(tf.sub(adv, x)).array()) as number[][];
      for (const row of delta) row.forEach((d, j) => expect(d).toBeLessThanOrEqual(0.5 * scale[j] * (1 + 1e-5)));
      // FGSM moves every feature by exactly ε·scale (the gradient is never zero here).
      if (attack === fgsm) for (const row of delta) row.forEach((d, j) => expect(d).toBeCloseTo(0.5 * scale[j], 3));
      adv.dispose();
    }
    tf.dispose([x, onehot]);
    model.dispose();
  });

  it('a scale of the wrong length is a typed config error', async () => {
    await selectNodeBackend();
    const { model } = tabular();
    const x = tf.zeros([1, 3]);
    const onehot = tf.tensor2d([[1, 0]]);
    expect(() => fgsm.run(model, x, onehot, { eps: 0.1, steps: 1, stepSize: 0.1, seed: 1, clipMin: -1, clipMax: 1, scale: new Float32Array(2) })).toThrow(expect.objectContaining({ code: 'config' }));
    tf.dispose([x, onehot]);
    model.dispose();
  });

  it('tabular data is attacked in feature-std units by default, and the report says so; absolute units differ', async () => {
    await selectNodeBackend();
    const { model, data } = tabular();
    const opts = { noise: false, corruptions: false, fgsm: [0.5], pgd: [0.5], pgdSteps: 5, pgdStepSize: 0.2, examples: 40, adversarialExamples: 40 } as const;
    const relative = await evaluateRobustness(model, data, opts);
    const absolute = await evaluateRobustness(model, data, { ...opts, epsUnits: 'absolute' });
    expect(relative.inputKind).toBe('tabular');
    expect(relative.epsUnits).toBe('feature-std');
    expect(absolute.epsUnits).toBe('absolute');
    // ε = 0.5 absolute is 500 standard deviations of the 0.001-scale feature: it flips every prediction. In
    // standard deviations, every feature moves by half its spread, which this margin survives.
    expect(absolute.fgsm[0].accuracy).toBe(0);
    expect(relative.fgsm[0].accuracy).toBe(1);
    expect(relative.pgd[0].accuracy).toBeGreaterThan(absolute.pgd[0].accuracy);
    model.dispose();
  });

  it('images stay in absolute units by default', async () => {
    await selectNodeBackend();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [16], units: 2 })] });
    const x = new Float32Array(8 * 16).map((_, i) => (i % 3) / 3);
    const data: Dataset = { x, y: Int32Array.from({ length: 8 }, (_, i) => i % 2), featureShape: [4, 4], numClasses: 2 };
    const r = await evaluateRobustness(model, data, { noise: false, corruptions: false, fgsm: [0.1], pgd: false, inputKind: 'image', imageSize: [4, 4] });
    expect(r.epsUnits).toBe('absolute');
    model.dispose();
  });
});
