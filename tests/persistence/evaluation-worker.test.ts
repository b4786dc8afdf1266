import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { EvaluationThread, loadModelDir, pretrainedModelDir, TfGlobalModel } from '@fedtune/coordinator';
import { evaluateModel, evaluateModelYielding } from '@fedtune/shared';
import type { RobustnessOptions, RobustnessReport, WeightArrays } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

/** The report without its wall-clock fields. */
const withoutTimes = ({ timings, durationMs, ...rest }: RobustnessReport) => {
  void timings;
  void durationMs;
  return rest;
};

/** Weights moved away from the pretrained ones by a seeded amount (a "later round"). */
function nudged(weights: WeightArrays, k: number): WeightArrays {
  return weights.map((w) => w.map((v, i) => v + 0.01 * Math.sin(k * 7 + i)));
}

const robustness: RobustnessOptions = { examples: 120, adversarialExamples: 24, pgdSteps: 3, corruptions: ['shot_noise', 'rotate'], noise: [0.2], fgsm: [0.1], pgd: [0.1], seed: 5 };

/** The pretrained MLP with these weights (a reference model of its own). */
async function modelWith(weights: WeightArrays): Promise<tf.LayersModel> {
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  model.setWeights(model.getWeights().map((t, i) => tf.tensor(weights[i], t.shape)));
  return model;
}

describe('evaluation on a worker thread (evaluation-thread.ts)', () => {
  let inWorker: TfGlobalModel;
  let inProcess: TfGlobalModel;
  let runDir: string;
  beforeAll(async () => {
    await selectNodeBackend();
    const holdout = head(builtinDigits().holdout, 300);
    const probe = { name: 'firstHundred', data: head(builtinDigits().holdout, 100) };
    const dir = tempDir();
    runDir = dir;
    inWorker = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, dir, 'mlp', {}, [probe], { evaluation: 'worker' });
    inProcess = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, dir, 'mlp', {}, [probe], { evaluation: 'in-process' });
    expect(await inWorker.evaluatesInWorker()).toBe(true);
    expect(await inProcess.evaluatesInWorker()).toBe(false);
  }, 120_000);
  afterAll(() => {
    inWorker?.dispose();
    inProcess?.dispose();
  });

  it('gives exactly the in-process numbers: holdout metrics with probes, temperature, robustness', async () => {
    for (const k of [0, 1, 2]) {
      const weights = nudged(inProcess.initialWeights, k);
      expect(await inWorker.evaluate(weights)).toEqual(await inProcess.evaluate(weights));
      expect(await inWorker.fitTemperature(weights)).toEqual(await inProcess.fitTemperature(weights));
      // The holdout's calibration sums (a federated temperature fit's trusted reference) too, for the weights sent.
      const betas = [0.5, 1, 2];
      const reference = await inWorker.calibrationReference(weights, betas);
      expect(reference).toEqual(await inProcess.calibrationReference(weights, betas));
      expect([reference.betas, reference.count, reference.stats.length]).toEqual([betas, inProcess.holdoutSize, 3]);
    }
    expect(await inWorker.calibrationReference(nudged(inProcess.initialWeights, 0), [1])).not.toEqual(await inWorker.calibrationReference(nudged(inProcess.initialWeights, 1), [1]));
    const weights = nudged(inProcess.initialWeights, 3);
    const a = await inWorker.evaluateRobustness(weights, robustness);
    const b = await inProcess.evaluateRobustness(weights, robustness);
    expect(withoutTimes(a)).toEqual(withoutTimes(b));
    // Different weights give different numbers: the worker really uses the weights it is sent.
    const other = await inWorker.evaluate(nudged(inProcess.initialWeights, 9).map((w) => w.map((v) => v * 0.5)));
    expect(other).not.toEqual(await inWorker.evaluate(weights));
  }, 120_000);

  it('answers a holdout evaluation while a robustness evaluation of other weights is still running', async () => {
    const w1 = nudged(inProcess.initialWeights, 4);
    const w2 = nudged(inProcess.initialWeights, 5);
    const slow = inWorker.evaluateRobustness(w1, robustness);
    const fast = await inWorker.evaluate(w2);
    expect(fast).toEqual(await inProcess.evaluate(w2));
    expect(withoutTimes(await slow)).toEqual(withoutTimes(await inProcess.evaluateRobustness(w1, robustness)));
  }, 120_000);

  it('in-process, a robustness evaluation is not disturbed by the next round\'s holdout evaluation and save meanwhile', async () => {
    const w1 = nudged(inProcess.initialWeights, 6);
    const alone = withoutTimes(await inProcess.evaluateRobustness(w1, robustness));
    const overlapped = inProcess.evaluateRobustness(w1, robustness);
    // What the next round does while it runs: evaluate and save other weights on the same global model.
    await inProcess.evaluate(nudged(inProcess.initialWeights, 7).map((w) => w.map((v) => -v)));
    await inProcess.save(2, nudged(inProcess.initialWeights, 7));
    expect(withoutTimes(await overlapped)).toEqual(alone);
  }, 120_000);

  it('leaks no tensors in the worker or on the main thread', async () => {
    const thread = inWorker.evaluationThread!;
    const mainBefore = tf.memory().numTensors;
    await inWorker.evaluate(inProcess.initialWeights);
    await inWorker.evaluateRobustness(inProcess.initialWeights, robustness);
    const start = await thread.tensors();
    for (let k = 0; k < 3; k++) {
      await inWorker.evaluate(nudged(inProcess.initialWeights, k));
      await inWorker.fitTemperature(nudged(inProcess.initialWeights, k));
      await inWorker.evaluateRobustness(nudged(inProcess.initialWeights, k), robustness);
    }
    expect(await thread.tensors()).toBe(start);
    expect(tf.memory().numTensors).toBe(mainBefore);
  }, 120_000);

  it('a failed evaluation in the worker is a typed error, and the worker goes on', async () => {
    await expect(inWorker.evaluate([new Float32Array(3)])).rejects.toMatchObject({ code: 'shape_mismatch' });
    expect(await inWorker.evaluate(inProcess.initialWeights)).toEqual(await inProcess.evaluate(inProcess.initialWeights));
  });

  it('closeEvaluation terminates the worker thread; later evaluations are refused', async () => {
    const model = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), head(builtinDigits().holdout, 50), tempDir(), 'mlp');
    expect(await model.evaluatesInWorker()).toBe(true);
    await model.evaluate(model.initialWeights);
    await model.closeEvaluation();
    await expect(model.evaluationThread!.exited).resolves.toBeTypeOf('number');
    await expect(model.evaluate(model.initialWeights)).rejects.toThrow(/closed|exited/);
    model.dispose();
  }, 60_000);

  it('a worker that cannot start says so (ready is false) and refuses requests with the reason', async () => {
    const thread = new EvaluationThread({ backend: 'no-such-backend', topology: inProcess.topology, holdout: head(builtinDigits().holdout, 10), probes: [] });
    expect(await thread.ready).toBe(false);
    await expect(thread.evaluate(inProcess.initialWeights)).rejects.toThrow(/evaluation worker: .*no-such-backend/);
    await thread.close();
  }, 60_000);
  it('warns that the worker could not start only when it could not: not for one closed before it was ready', async () => {
    const warnings: string[] = [];
    const onWarning = (w: string) => void warnings.push(w);
    // A run that ends (or aborts) at once closes its worker before the worker is ready.
    const early = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), head(builtinDigits().holdout, 50), tempDir(), 'mlp', {}, [], { evaluation: 'worker', onWarning });
    await early.closeEvaluation();
    expect(await early.evaluatesInWorker()).toBe(false);
    expect(warnings).toEqual([]);
    early.dispose();
    // A layer class registered in this thread only: the worker cannot rebuild the model, and says so.
    class TestOnlyDoubler extends tf.layers.Layer {
      static className = 'FedtuneTestOnlyDoubler';
      override computeOutputShape(shape: tf.Shape | tf.Shape[]) {
        return shape;
      }
      override call(inputs: tf.Tensor | tf.Tensor[]) {
        return tf.mul(Array.isArray(inputs) ? inputs[0]! : inputs, 2);
      }
    }
    tf.serialization.registerClass(TestOnlyDoubler);
    const custom = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10 }), new TestOnlyDoubler({})] });
    const failing = new TfGlobalModel(custom, head(builtinDigits().holdout, 50), tempDir(), 'custom', {}, [], { evaluation: 'worker', onWarning });
    expect(await failing.evaluatesInWorker()).toBe(false);
    expect(warnings).toEqual(['the evaluation worker could not start: evaluating on the main thread']);
    expect(Number.isFinite((await failing.evaluate(failing.initialWeights)).accuracy)).toBe(true); // on the main thread
    failing.dispose();
  }, 60_000);
  it('evaluateModelYielding (the in-process holdout evaluation) lets timers run between batches and gives evaluateModel\'s numbers to the bit', async () => {
    const holdout = head(builtinDigits().holdout, 1_200);
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const ticks: number[] = [];
    const ticker = setInterval(() => ticks.push(1), 0);
    try {
      const a = await evaluateModelYielding(model, holdout, 500);
      const during = ticks.length;
      expect(a).toEqual(evaluateModel(model, holdout, 500));
      // Three batches, two turns of the event loop between them: the timer ran meanwhile.
      expect(during).toBeGreaterThanOrEqual(1);
    } finally {
      clearInterval(ticker);
      model.dispose();
    }
  }, 120_000);

  it('in process, an evaluation and a save of other weights at the same time each use their own weights (the evaluation yields between batches)', async () => {
    const holdout = head(builtinDigits().holdout, 1_200);
    const dir = tempDir();
    const model = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, dir, 'mlp', {}, [], { evaluation: 'in-process' });
    try {
      const wEval = nudged(model.initialWeights, 7);
      const wSave = nudged(model.initialWeights, 8).map((w) => w.map((v) => v * 0.5));
      const reference = await modelWith(wEval);
      const expected = evaluateModel(reference, holdout);
      reference.dispose();
      // The save comes while the evaluation is between two of its batches.
      const evaluating = model.evaluate(wEval);
      await new Promise((resolve) => setImmediate(resolve));
      const [metrics, rel] = await Promise.all([evaluating, model.save(99, wSave)]);
      expect(metrics).toEqual({ accuracy: expected.accuracy, loss: expected.loss });
      const saved = await loadModelDir(join(dir, rel));
      try {
        expect(Array.from((saved.getWeights()[0].dataSync() as Float32Array).subarray(0, 5))).toEqual(Array.from(wSave[0].subarray(0, 5)));
      } finally {
        saved.dispose();
      }
    } finally {
      model.dispose();
    }
  }, 120_000);
});
