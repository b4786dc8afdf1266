import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { prepareRobustnessInputs } from '../../coordinator/src/engine/prepare-robustness-inputs.ts';
import { applyCorruption, evaluateRobustness, FedtuneError, perturbationPlan, PerturbedInputs, type Dataset, type RobustnessEvaluationConfig, type RobustnessOptions, type RobustnessReport } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import type { GlobalModel } from '../../coordinator/src/engine/global-model.ts';
import { head } from '../helpers/federation.ts';

/** The report without its wall-clock fields. */
const withoutTimes = ({ timings, durationMs, ...rest }: RobustnessReport) => {
  void timings;
  void durationMs;
  return rest;
};

/** A small tabular dataset (3 features on different scales), 2 classes. */
function tabular(n: number): Dataset {
  const x = new Float32Array(n * 3);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x.set([Math.sin(i) * 10, (i % 7) - 3, Math.cos(i * 0.3)], i * 3);
    y[i] = i % 2;
  }
  return { x, y, featureShape: [3], numClasses: 2 };
}

const options: RobustnessOptions = { examples: 60, adversarialExamples: 8, pgdSteps: 2, noise: [0.2, 0.5], corruptions: ['shot_noise', 'rotate'], fgsm: [0.1], pgd: [0.1], seed: 3 };

const table = tabular(90);
let digits: Dataset;
let model: tf.LayersModel;
beforeAll(async () => {
  await selectNodeBackend();
  digits = head(builtinDigits().holdout, 200);
  model = await loadModelDir(pretrainedModelDir('mlp'));
}, 120_000);

describe('PerturbedInputs.prepare (perturbed-inputs.ts)', () => {
  it.each([
    ['image data', () => digits, options, 4],
    ['tabular data', () => table, { examples: 50, seed: 2, noise: [0.1], corruptions: true }, 5],
  ] as const)('on %s makes, chunk by chunk, exactly the copies applyCorruption makes', async (_, data, opts, expected) => {
    const inputs = new PerturbedInputs();
    const tensors = tf.memory().numTensors;
    expect(await inputs.prepare(data(), opts, 7)).toBe(expected);
    expect(tf.memory().numTensors).toBe(tensors);
    const plan = perturbationPlan(data(), opts);
    expect(plan.perturbations).toHaveLength(expected);
    for (const p of plan.perturbations) {
      const made = inputs.get(data(), plan, p);
      const direct = applyCorruption(plan.ds, p.corruption, { geometry: plan.geometry, seed: plan.seed, ...(plan.stats ? { stats: plan.stats } : {}) });
      expect(made.x).toEqual(direct.x);
      expect(made.x).not.toEqual(plan.ds.x);
      expect(made.y).toEqual(plan.ds.y);
    }
    expect(inputs.stats()).toMatchObject({ held: expected, made: expected, reused: expected });
    // Everything is held: a second preparation makes nothing.
    expect(await inputs.prepare(data(), opts, 7)).toBe(0);
  });

  it.each([0, 1, 0.5, 500])('a chunk of %s examples still makes every copy exactly (at least one example per chunk)', async (chunk) => {
    const small = { ...options, examples: 6 };
    const inputs = new PerturbedInputs();
    expect(await inputs.prepare(digits, small, chunk)).toBe(4);
    const plan = perturbationPlan(digits, small);
    for (const p of plan.perturbations) expect(inputs.get(digits, plan, p).x).toEqual(applyCorruption(plan.ds, p.corruption, { geometry: plan.geometry, seed: plan.seed }).x);
  });

  it('an evaluation with prepared inputs reports exactly what it reports without them, and makes none', async () => {
    const inputs = new PerturbedInputs();
    expect(await inputs.prepare(digits, options)).toBe(4);
    const withInputs = await evaluateRobustness(model, digits, options, { inputs });
    const without = await evaluateRobustness(model, digits, options);
    expect(withoutTimes(withInputs)).toEqual(withoutTimes(without));
    expect(inputs.stats()).toMatchObject({ held: 4, made: 4, reused: 4 });
  }, 60_000);

  it('without preparation the first evaluation makes the copies and the next reuses them, with the same numbers', async () => {
    const inputs = new PerturbedInputs();
    const first = await evaluateRobustness(model, digits, options, { inputs });
    expect(inputs.stats()).toMatchObject({ held: 4, made: 4, reused: 0 });
    const second = await evaluateRobustness(model, digits, options, { inputs });
    expect(inputs.stats()).toMatchObject({ held: 4, made: 4, reused: 4 });
    expect(withoutTimes(second)).toEqual(withoutTimes(first));
  }, 60_000);

  it.each([
    ['another seed', { seed: 4 }, 4],
    ['another sample size', { examples: 61 }, 4],
    ['another input range', { inputRange: [0, 2] as [number, number] }, 4],
    ['another noise σ', { noise: [0.2, 0.3] }, 1],
    ['another corruption', { corruptions: ['shot_noise', 'fog'] }, 1],
    ['the same options', {}, 0],
  ])('copies are keyed by everything they depend on: %s makes %i new ones', async (_, change, expected) => {
    const inputs = new PerturbedInputs();
    await inputs.prepare(digits, options, 100);
    expect(await inputs.prepare(digits, { ...options, ...change }, 100)).toBe(expected);
  });

  it('holds copies of one dataset only, and at most maxHeld of them (the oldest go first)', async () => {
    const inputs = new PerturbedInputs();
    await inputs.prepare(digits, options);
    const other = head(digits, 150);
    expect(await inputs.prepare(other, options)).toBe(4);
    expect(inputs.stats().held).toBe(4);
    expect(await inputs.prepare(digits, options)).toBe(4);

    const small = new PerturbedInputs(2);
    // Full after two: preparation stops rather than drop what it made.
    expect(await small.prepare(digits, options)).toBe(2);
    const plan = perturbationPlan(digits, options);
    small.get(digits, plan, plan.perturbations[1]!);
    expect(small.stats()).toMatchObject({ held: 2, made: 2, reused: 1 });
    // An evaluation's copy goes in, the oldest goes out.
    small.get(digits, plan, plan.perturbations[3]!);
    expect(small.stats()).toMatchObject({ held: 2, made: 3, reused: 1 });
    small.get(digits, plan, plan.perturbations[0]!);
    expect(small.stats()).toMatchObject({ held: 2, made: 4, reused: 1 });
    small.get(digits, plan, plan.perturbations[3]!);
    expect(small.stats()).toMatchObject({ held: 2, made: 4, reused: 2 });

    const none = new PerturbedInputs(0);
    expect(await none.prepare(digits, options)).toBe(0);
    expect(none.get(digits, plan, plan.perturbations[0]!).x).toEqual(small.get(digits, plan, plan.perturbations[0]!).x);
    expect(none.stats()).toMatchObject({ held: 0, made: 1, reused: 0 });
  });

  it('holds at most maxBytes of values: preparation stops there, an evaluation\'s copy pushes the oldest out, a copy larger than the limit is not held', async () => {
    const copy = 60 * 784 * 4;
    const plan = perturbationPlan(digits, options);
    const two = new PerturbedInputs(64, 2.5 * copy);
    expect(await two.prepare(digits, options)).toBe(2);
    expect(two.stats()).toEqual({ held: 2, heldBytes: 2 * copy, made: 2, reused: 0 });
    two.get(digits, plan, plan.perturbations[2]!);
    expect(two.stats()).toEqual({ held: 2, heldBytes: 2 * copy, made: 3, reused: 0 });
    two.get(digits, plan, plan.perturbations[2]!);
    two.get(digits, plan, plan.perturbations[1]!);
    expect(two.stats()).toEqual({ held: 2, heldBytes: 2 * copy, made: 3, reused: 2 });
    two.get(digits, plan, plan.perturbations[0]!);
    expect(two.stats()).toEqual({ held: 2, heldBytes: 2 * copy, made: 4, reused: 2 });

    const exact = new PerturbedInputs(64, 2 * copy);
    expect(await exact.prepare(digits, options)).toBe(2);
    const tooSmall = new PerturbedInputs(64, copy - 1);
    expect(await tooSmall.prepare(digits, options)).toBe(0);
    expect(tooSmall.get(digits, plan, plan.perturbations[0]!).x).toEqual(two.get(digits, plan, plan.perturbations[0]!).x);
    expect(tooSmall.stats()).toEqual({ held: 0, heldBytes: 0, made: 1, reused: 0 });
    // Another dataset starts from nothing.
    expect(await exact.prepare(head(digits, 150), options)).toBe(2);
    expect(exact.stats()).toMatchObject({ held: 2, heldBytes: 2 * copy });
  });

  it('refuses a corruption for the other input kind with the evaluation\'s own config error, making nothing', async () => {
    const inputs = new PerturbedInputs();
    const err = await inputs.prepare(digits, { ...options, corruptions: ['feature_noise'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FedtuneError);
    expect((err as FedtuneError).code).toBe('config');
    expect(inputs.stats().held).toBe(0);
  });
});

describe('prepareRobustnessInputs (the round loop asks once per run)', () => {
  const config = (when: RobustnessEvaluationConfig['when']): RobustnessEvaluationConfig => ({ when, seed: 7, examples: 40, certify: { n: 10 } as never });
  function fakeModel(result: Promise<number>, withEvaluation = true) {
    const calls: RobustnessOptions[] = [];
    const model = {
      prepareRobustness: (o: RobustnessOptions) => {
        calls.push(o);
        return result;
      },
      ...(withEvaluation ? { evaluateRobustness: () => Promise.reject(new Error('not here')) } : {}),
    } as unknown as GlobalModel;
    return { model, calls };
  }
  it.each([
    ['final', 1],
    ['every-round', 1],
    [3, 1],
    ['never', 0],
  ] as const)('when = %s: asks %i time(s), with the evaluation options (without when and certify)', async (when, expected) => {
    const { model, calls } = fakeModel(Promise.resolve(5));
    const preparing = prepareRobustnessInputs(model, config(when), 10);
    expect(calls).toHaveLength(expected);
    if (expected) {
      expect(calls[0]).toEqual({ seed: 7, examples: 40 });
      expect(await preparing).toBe(5);
    } else expect(preparing).toBeUndefined();
  });

  it('asks nothing of a model without a robustness evaluation, and a failed preparation is no unhandled rejection', async () => {
    const without = fakeModel(Promise.resolve(1), false);
    expect(prepareRobustnessInputs(without.model, config('final'), 3)).toBeUndefined();
    expect(without.calls).toHaveLength(0);
    const failing = fakeModel(Promise.reject(new Error('worker gone')));
    const preparing = prepareRobustnessInputs(failing.model, config('final'), 3)!;
    await expect(preparing).rejects.toThrow('worker gone');
  });
});
