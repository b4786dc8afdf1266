import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, mergeRunConfig, pretrainedModelDir, type PartialRunConfigInput } from '@fedtune/coordinator';
import { evaluateRobustness, IMAGE_CORRUPTIONS, shouldEvaluateRobustness, type Dataset } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head } from '../helpers/federation.ts';

/**
 * Effect tests of the run config's robustness-evaluation fields (run-config-field-coverage.test.ts): the round
 * loop passes `config.robustness` (less `when`, and `certify` only in the final round) to the global model's
 * evaluateRobustness (round-loop.ts); two run configs that differ only in one field give different reports on
 * the committed pretrained MLP and a small holdout, while the same config twice gives the same report.
 */

let model: tf.LayersModel;
let holdout: Dataset;
beforeAll(async () => {
  await selectNodeBackend();
  model = await loadModelDir(pretrainedModelDir('mlp'));
  holdout = head(builtinDigits().holdout, 120);
});
afterAll(() => model?.dispose());

const BASE = { examples: 60, adversarialExamples: 16, noise: [0.2], corruptions: false, fgsm: [0.05], pgd: [0.05], pgdSteps: 3, seed: 1 };
const CERTIFY = { sigma: 0.25, n0: 8, n: 40, alpha: 0.01, radii: [0, 0.1, 0.25], examples: 8, batchSize: 64, seed: 1 };

/** The final round's evaluation of `robustness` (over BASE) as the round loop asks for it, without its timings. */
async function report(robustness: Record<string, unknown>): Promise<unknown> {
  const config = mergeRunConfig({ runId: 'robustness-effects', robustness: { ...BASE, ...robustness } as never } as PartialRunConfigInput);
  const { when: _when, certify, ...options } = config.robustness;
  const out = await evaluateRobustness(model, holdout, { ...options, ...(certify ? { certify } : {}) });
  return JSON.parse(JSON.stringify(out, (key, value) => (key === 'timings' || /ms$|duration|seconds/i.test(key) ? undefined : value)));
}

const ROWS: Record<string, [without: Record<string, unknown>, changed: Record<string, unknown>]> = {
  'robustness.examples': [{ examples: 60 }, { examples: 30 }],
  'robustness.adversarialExamples': [{ adversarialExamples: 16 }, { adversarialExamples: 8 }],
  'robustness.seed': [{ seed: 1 }, { seed: 2 }],
  'robustness.noise': [{ noise: [0.2] }, { noise: [0.5] }],
  'robustness.corruptions': [{ corruptions: false }, { corruptions: [IMAGE_CORRUPTIONS[0]!.name] }],
  'robustness.fgsm': [{ fgsm: [0.05] }, { fgsm: [0.2] }],
  'robustness.pgd': [{ pgd: [0.05] }, { pgd: [0.2] }],
  'robustness.pgdSteps': [{ pgd: [0.1], pgdSteps: 1 }, { pgd: [0.1], pgdSteps: 10 }],
  'robustness.pgdStepSize': [{ pgd: [0.1], pgdStepSize: 0.002 }, { pgd: [0.1], pgdStepSize: 0.05 }],
  'robustness.pgdL2': [{}, { pgdL2: [1] }],
  'robustness.headlineEps': [{}, { headlineEps: 0.07 }],
  'robustness.certify.sigma': [{ certify: CERTIFY }, { certify: { ...CERTIFY, sigma: 0.5 } }],
  'robustness.certify.n': [{ certify: CERTIFY }, { certify: { ...CERTIFY, n: 200 } }],
  'robustness.certify.alpha': [{ certify: CERTIFY }, { certify: { ...CERTIFY, alpha: 0.2 } }],
  'robustness.certify.radii': [{ certify: CERTIFY }, { certify: { ...CERTIFY, radii: [0, 0.5] } }],
  'robustness.certify.examples': [{ certify: CERTIFY }, { certify: { ...CERTIFY, examples: 4 } }],
  'robustness.certify.seed': [{ certify: CERTIFY }, { certify: { ...CERTIFY, seed: 2 } }],
  'robustness.certify.n0': [{ certify: { ...CERTIFY, n0: 1 } }, { certify: { ...CERTIFY, n0: 64 } }],
};

describe('every robustness-evaluation field of the run config changes the robustness report', () => {
  it('the same config twice gives the same report (with and without certification)', async () => {
    expect(await report({})).toEqual(await report({}));
    expect(await report({ certify: CERTIFY })).toEqual(await report({ certify: CERTIFY }));
  });

  it.each(Object.entries(ROWS))('%s', async (_field, [without, changed]) => {
    expect(await report(changed)).not.toEqual(await report(without));
  });

  it('robustness.when: which rounds of a 4-round run the round loop evaluates', () => {
    const rounds = (when: unknown) => [1, 2, 3, 4].filter((r) => shouldEvaluateRobustness(mergeRunConfig({ runId: 'w', robustness: { when } as never }).robustness.when, r, 4));
    expect(rounds('final')).toEqual([4]);
    expect(rounds(2)).toEqual([2, 4]);
    expect(rounds('never')).toEqual([]);
  });
});
