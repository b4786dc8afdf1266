import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, TfGlobalModel } from '@fedtune/coordinator';
import type { RobustnessOptions, RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

/** The report without its wall-clock fields. */
const withoutTimes = ({ timings, durationMs, ...rest }: RobustnessReport) => {
  void timings;
  void durationMs;
  return rest;
};

const robustness: RobustnessOptions = { examples: 120, adversarialExamples: 16, pgdSteps: 2, corruptions: ['shot_noise', 'rotate', 'fog'], noise: [0.2, 0.4], fgsm: [0.1], pgd: [0.1], seed: 5 };

describe('the robustness evaluation\'s inputs made ahead on the evaluation worker (prepare-robustness)', () => {
  let inWorker: TfGlobalModel;
  let inProcess: TfGlobalModel;
  beforeAll(async () => {
    await selectNodeBackend();
    const holdout = head(builtinDigits().holdout, 300);
    inWorker = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, tempDir(), 'mlp', {}, [], { evaluation: 'worker' });
    inProcess = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, tempDir(), 'mlp', {}, [], { evaluation: 'in-process' });
    expect(await inWorker.evaluatesInWorker()).toBe(true);
  }, 120_000);
  afterAll(() => {
    inWorker?.dispose();
    inProcess?.dispose();
  });

  it('makes each noisy and corrupted copy once, answers holdout evaluations meanwhile, and leaves every number as it was', async () => {
    const tensors = await inWorker.evaluationThread!.tensors();
    const preparing = inWorker.prepareRobustness(robustness);
    // The worker keeps answering the round's holdout evaluation while it prepares.
    expect(await inWorker.evaluate(inProcess.initialWeights)).toEqual(await inProcess.evaluate(inProcess.initialWeights));
    expect(await preparing).toBe(5);
    expect(await inWorker.prepareRobustness(robustness)).toBe(0);
    expect(await inWorker.prepareRobustness({ ...robustness, seed: 6 })).toBe(5);
    for (const weights of [inProcess.initialWeights, inProcess.initialWeights.map((w) => w.map((v, i) => v + 0.02 * Math.sin(i)))]) {
      expect(withoutTimes(await inWorker.evaluateRobustness(weights, robustness))).toEqual(withoutTimes(await inProcess.evaluateRobustness(weights, robustness)));
    }
    expect(await inWorker.evaluationThread!.tensors()).toBe(tensors);
  }, 120_000);

  it('in-process there is nothing to prepare (0): the first evaluation makes the copies and keeps them', async () => {
    expect(await inProcess.prepareRobustness(robustness)).toBe(0);
    const before = tf.memory().numTensors;
    const a = await inProcess.evaluateRobustness(inProcess.initialWeights, { ...robustness, seed: 9 });
    const b = await inProcess.evaluateRobustness(inProcess.initialWeights, { ...robustness, seed: 9 });
    expect(withoutTimes(a)).toEqual(withoutTimes(b));
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
