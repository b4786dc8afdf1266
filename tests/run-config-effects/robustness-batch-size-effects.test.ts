import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, mergeRunConfig, pretrainedModelDir, type PartialRunConfigInput } from '@fedtune/coordinator';
import { evaluateRobustness, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head } from '../helpers/federation.ts';

/**
 * Effect tests of the run config's two evaluation batch sizes (run-config-field-coverage.test.ts):
 * `robustness.batchSize` and `robustness.certify.batchSize` decide how many rows each forward pass of the global
 * model's robustness evaluation holds (round-loop.ts passes `config.robustness` to evaluateRobustness). Every
 * forward pass the evaluation makes goes through the model's predict (predictAll) or apply (the attacks'
 * gradients): both are recorded, and the largest batch must equal the setting.
 *
 * What they do not change: the numbers. A row's outputs do not depend on its batch, so robustness.batchSize
 * leaves the deterministic parts of the report as they are (clean metrics, noise, FGSM; PGD's random start is
 * seeded per batch), and certify.batchSize the certificates: randomized smoothing draws copy r's noise from a
 * block of 500 rows seeded by r's block, whatever the batch (randomized-smoothing.ts NOISE_BLOCK).
 */

let model: tf.LayersModel;
let holdout: Dataset;
beforeAll(async () => {
  await selectNodeBackend();
  model = await loadModelDir(pretrainedModelDir('mlp'));
  holdout = head(builtinDigits().holdout, 60);
});
afterAll(() => model?.dispose());

/** The rows of every forward pass (predict or apply) the model ran during `work`. */
async function passes(work: () => Promise<unknown>): Promise<{ rows: number[]; out: unknown }> {
  const rows: number[] = [];
  const predict = model.predict.bind(model);
  const apply = model.apply.bind(model);
  const rowsOf = (x: tf.Tensor | tf.Tensor[] | unknown) => (Array.isArray(x) ? (x[0] as tf.Tensor).shape[0] : (x as tf.Tensor).shape[0]) ?? 0;
  model.predict = ((x: tf.Tensor, args?: Parameters<typeof predict>[1]) => (rows.push(rowsOf(x)), predict(x, args))) as typeof model.predict;
  model.apply = ((x: tf.Tensor, kwargs?: Record<string, unknown>) => (rows.push(rowsOf(x)), apply(x, kwargs))) as typeof model.apply;
  try {
    return { rows, out: await work() };
  } finally {
    model.predict = predict;
    model.apply = apply;
  }
}

/** The final round's evaluation (as round-loop.ts asks for it), without timings. */
async function report(robustness: Record<string, unknown>) {
  const config = mergeRunConfig({ runId: 'batch-size-effects', robustness: robustness as never } as PartialRunConfigInput);
  const { when: _when, certify, ...options } = config.robustness;
  return passes(async () => {
    const out = await evaluateRobustness(model, holdout, { ...options, ...(certify ? { certify } : {}) });
    return JSON.parse(JSON.stringify(out, (key, value) => (key === 'timings' || /ms$|duration|seconds/i.test(key) ? undefined : value)));
  });
}

/** Deterministic parts only: clean metrics, Gaussian noise and FGSM (PGD's random start is seeded per batch start). */
const EVALUATION = { examples: 60, adversarialExamples: 20, noise: [0.2], corruptions: false, fgsm: [0.05], pgd: false, seed: 1 };
const CERTIFY = { sigma: 0.25, n0: 10, n: 50, alpha: 0.01, radii: [0, 0.25], examples: 3, seed: 1 };

/** Numbers equal up to float summation order (a loss summed over other batches), everything else exactly. */
function expectSameNumbers(a: unknown, b: unknown, path = 'report'): void {
  if (typeof a === 'number' && typeof b === 'number') return void expect(Math.abs(a - b), path).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a)));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a as object).sort());
    for (const k of Object.keys(a as object)) expectSameNumbers((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  expect(b, path).toEqual(a);
}

describe('the robustness evaluation\'s batch sizes set the rows of its forward passes', () => {
  it('robustness.batchSize: the largest forward pass is the setting, there are more passes the smaller it is, and the numbers are the same', async () => {
    const small = await report({ ...EVALUATION, batchSize: 7 });
    const large = await report({ ...EVALUATION, batchSize: 32 });
    expect(Math.max(...small.rows)).toBe(7);
    expect(Math.max(...large.rows)).toBe(32);
    expect(small.rows.length).toBeGreaterThan(large.rows.length);
    expectSameNumbers(small.out, large.out);
  });

  it('robustness.certify.batchSize: each example\'s n0 + n noisy predictions come in passes of at most the setting, and the certificates are the same', async () => {
    // No attacks and no noise list: the passes of more than one row are the certification's (clean metrics run over the 60 examples in one).
    const base = { examples: 60, adversarialExamples: 0, noise: false, corruptions: false, fgsm: false, pgd: false, seed: 1, batchSize: 60 };
    const certifyPasses = (rows: number[]) => rows.slice(1);
    const [a, b] = [await report({ ...base, certify: { ...CERTIFY, batchSize: 8 } }), await report({ ...base, certify: { ...CERTIFY, batchSize: 50 } })];
    expect(a.rows[0]).toBe(60);
    expect(Math.max(...certifyPasses(a.rows))).toBe(8);
    expect(Math.max(...certifyPasses(b.rows))).toBe(50);
    // Per example: ceil(10/8) + ceil(50/8) = 2 + 7 passes, or ceil(10/50) + ceil(50/50) = 1 + 1.
    expect(certifyPasses(a.rows)).toHaveLength(CERTIFY.examples * 9);
    expect(certifyPasses(b.rows)).toHaveLength(CERTIFY.examples * 2);
    expect(b.out).toEqual(a.out);
    // Batches across the noise's 500-row blocks: n = 1200 copies in passes of 64 and of 1000.
    const wide = { ...CERTIFY, n: 1200, examples: 2 };
    expect((await report({ ...base, certify: { ...wide, batchSize: 64 } })).out).toEqual((await report({ ...base, certify: { ...wide, batchSize: 1000 } })).out);
  });
});
