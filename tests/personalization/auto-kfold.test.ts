import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import {
  AUTO_CANDIDATES,
  autoPersonalize,
  evaluateModel,
  fitLocal,
  keptCandidateWeights,
  LOCAL_MIX_ALPHA,
  perExampleCorrect,
  readModelWeights,
  selectPersonalCandidate,
  splitDataset,
  subset,
  writeModelWeights,
  type AutoCandidate,
  type PersonalizationSettings,
  type Splits,
  type TrainConfig,
} from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

const train: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all', seed: 3 };
const settings = (s: Partial<PersonalizationSettings> = {}): PersonalizationSettings => ({ mode: 'auto', epochs: 1, lambda: 0.1, validate: true, guard: 'off', selection: 'kfold', folds: 5, selectionMargin: 0, ...s });
const same = (a: Float32Array[], b: Float32Array[]) => a.every((w, i) => w.every((v, j) => v === b[i][j]));
let data: Splits;
let pool: number;
/** The examples every candidate is scored on: the validation split's (the global model never trained on them). */
let scored: number;

beforeAll(async () => {
  await selectNodeBackend();
  // site-3 of the built-in task: its own scanner, so fine-tuning has something to gain.
  const site = builtinDigitsSites({ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 })[2];
  data = splitDataset(subset(site, Array.from({ length: Math.min(200, site.y.length) }, (_, i) => i)), 9);
  pool = data.train.y.length + data.validation.y.length;
  scored = data.validation.y.length;
});

async function run(s: Partial<PersonalizationSettings>, extra: Parameters<typeof autoPersonalize>[4] = {}) {
  const model = await loadModelDir(pretrainedModelDir('mlp'));
  const global = readModelWeights(model).arrays;
  const out = await autoPersonalize(model, data, train, settings(s), extra);
  const weights = readModelWeights(model).arrays;
  const onValidation = evaluateModel(model, data.validation);
  model.dispose();
  return { out, weights, global, onValidation };
}

describe("mode 'auto' with selection 'kfold': stratified cross-validation over train ∪ validation, then a refit", () => {
  it('scores every candidate on every validation example exactly once (trained on the other folds of train ∪ validation), and keeps the rule’s choice', async () => {
    const { out } = await run({});
    expect(out.selection).toEqual({ method: 'kfold', folds: 5, examples: scored });
    expect(scored).toBeLessThan(pool);
    // No local-only recipe: the given local-only model cannot be cross-validated, so it is not a candidate.
    expect(out.scores.map((s) => s.candidate)).toEqual(AUTO_CANDIDATES.filter((c) => c !== 'local-only' && c !== 'local-mix-0.5'));
    for (const s of out.scores) {
      expect(s.correct).toHaveLength(scored);
      expect(s.accuracy).toBe(s.correct!.reduce((a, b) => a + b, 0) / scored);
      expect(Number.isFinite(s.loss) && s.loss > 0).toBe(true);
      expect(s.robustAccuracy).toBeUndefined();
    }
    expect(out.chosen).toBe(selectPersonalCandidate(out.scores, 0).candidate);
  });

  it.each([
    ['selection holdout scores on the validation split only', { selection: 'holdout' as const }, () => ({ method: 'holdout', examples: data.validation.y.length })],
    ['selection absent means holdout', { selection: undefined }, () => ({ method: 'holdout', examples: data.validation.y.length })],
    ['folds 3', { folds: 3 }, () => ({ method: 'kfold', folds: 3, examples: scored })],
    ['folds absent means 5', { folds: undefined }, () => ({ method: 'kfold', folds: 5, examples: scored })],
  ])('%s', async (_name, s, want) => {
    const { out } = await run(s);
    expect(out.selection).toEqual(want());
    for (const c of out.scores) expect(c.correct).toHaveLength(want().examples);
  });

  it('folds change the scores (a different cross-validation)', async () => {
    const three = await run({ folds: 3 });
    const five = await run({ folds: 5 });
    expect(three.out.scores.map((s) => s.loss)).not.toEqual(five.out.scores.map((s) => s.loss));
  });

  it('more folds than validation examples: one fold per validation example; a single one falls back to holdout', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const three = { train: subset(data.train, [0, 1, 2, 3, 4]), validation: subset(data.validation, [0, 1, 2]) };
    expect((await autoPersonalize(model, three, train, settings({ folds: 10 }))).selection).toEqual({ method: 'kfold', folds: 3, examples: 3 });
    const one = { train: subset(data.train, [0, 1, 2]), validation: subset(data.validation, [0]) };
    expect((await autoPersonalize(model, one, train, settings({ folds: 10 }))).selection).toEqual({ method: 'holdout', examples: 1 });
    model.dispose();
  });

  it('the global model is scored on the validation split alone, example by example: never on the train examples it was trained on', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const onValidation = perExampleCorrect(model, data.validation);
    const onTrain = perExampleCorrect(model, data.train);
    const out = await autoPersonalize(model, data, train, settings({}));
    const global = out.scores.find((s) => s.candidate === 'global')!;
    // The global model is not trained in any fold: its pooled score is its score on the validation split.
    expect([...global.correct!]).toEqual([...onValidation]);
    expect(global.accuracy).toBe(onValidation.reduce((a, b) => a + b, 0) / onValidation.length);
    // (and not its score on train ∪ validation, which differs on this site)
    expect((onTrain.reduce((a, b) => a + b, 0) + onValidation.reduce((a, b) => a + b, 0)) / pool).not.toBe(global.accuracy);
    model.dispose();
  });

  it('every fold holds its share of the validation split (train and validation are dealt apart)', async () => {
    // Dealt together with the far larger train split, a fold could get no validation example to score on.
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const v = Array.from({ length: 11 }, (_, i) => i);
    const out = await autoPersonalize(model, { train: data.train, validation: subset(data.validation, v) }, train, settings({ folds: 10 }));
    expect(out.selection).toEqual({ method: 'kfold', folds: 10, examples: 11 });
    for (const s of out.scores) expect(s.correct).toHaveLength(11);
    model.dispose();
  });

  it('the margin: a huge one keeps the global model exactly; margin 0 keeps the most accurate candidate', async () => {
    const loose = await run({ selectionMargin: 0 });
    // On this site (its own scanner) a fine-tune beats the pretrained global model in cross-validation.
    expect(loose.out.chosen).not.toBe('global');
    const top = Math.max(...loose.out.scores.map((s) => s.accuracy));
    expect(loose.out.scores.find((s) => s.candidate === loose.out.chosen)!.accuracy).toBe(top);
    expect(same(loose.weights, loose.global)).toBe(false);
    const strict = await run({ selectionMargin: 10 });
    expect(strict.out.scores.map((s) => s.accuracy)).toEqual(loose.out.scores.map((s) => s.accuracy));
    expect(strict.out.chosen).toBe('global');
    expect(same(strict.weights, strict.global)).toBe(true);
  });

  it('the chosen fine-tune is refit on all of train ∪ validation, deterministically', async () => {
    const a = await run({ selectionMargin: 0 });
    const b = await run({ selectionMargin: 0 });
    expect(a.out.chosen).toBe(b.out.chosen);
    expect(a.out.chosen).not.toBe('global');
    expect(same(a.weights, b.weights)).toBe(true);
    expect(same(a.weights, a.global)).toBe(false);
  });

  it('with a local-only recipe the local-only model is retrained on every fold (the given weights are not scored)', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const pretrained = readModelWeights(model).arrays;
    model.dispose();
    // The "given" local-only weights are the global model's: a retrained local-only candidate scores differently.
    const { out } = await run({}, { localOnly: pretrained, localOnlyRecipe: { start: pretrained, config: { ...train, epochs: 3, seed: 11 } } });
    expect(out.scores.map((s) => s.candidate)).toEqual([...AUTO_CANDIDATES]);
    const global = out.scores.find((s) => s.candidate === 'global')!;
    const localOnly = out.scores.find((s) => s.candidate === 'local-only')!;
    expect(localOnly.correct).toHaveLength(scored);
    expect(localOnly.loss).not.toBe(global.loss);
  });

  it('a chosen local-only candidate is the site’s local-only model when given, else refit from the recipe’s start on all the data', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const pretrained = readModelWeights(model).arrays;
    // Learning rate 0 for every fine-tune: they all equal the global model; local-only trains for real and wins.
    const recipe = { start: pretrained, config: { ...train, epochs: 4, learningRate: 0.003, seed: 11 } };
    const noFineTune = { ...train, learningRate: 1e-9 };
    const refit = await autoPersonalize(model, data, noFineTune, settings({ selectionMargin: 1 }), { localOnlyRecipe: recipe });
    expect(refit.chosen).toBe('local-only');
    const refitWeights = readModelWeights(model).arrays;
    expect(same(refitWeights, pretrained)).toBe(false);
    // The site's own local-only model (here: trained from the recipe on the train split alone) is kept as it is.
    writeModelWeights(model, pretrained);
    await fitLocal(model, data.train, recipe.config);
    const siteLocalOnly = readModelWeights(model).arrays;
    writeModelWeights(model, pretrained);
    const given = await autoPersonalize(model, data, noFineTune, settings({ selectionMargin: 1 }), { localOnly: siteLocalOnly, localOnlyRecipe: recipe });
    expect(given.chosen).toBe('local-only');
    expect(same(readModelWeights(model).arrays, siteLocalOnly)).toBe(true);
    expect(same(siteLocalOnly, refitWeights)).toBe(false);
    model.dispose();
  });

  it('the robustness guard is measured on the held-out folds too', async () => {
    const { out } = await run({ guard: 'fgsm', guardEps: 0.05 });
    for (const s of out.scores) {
      expect(s.robustAccuracy! >= 0 && s.robustAccuracy! <= 1, s.candidate).toBe(true);
      expect(s.robustAccuracy! * scored).toBeCloseTo(Math.round(s.robustAccuracy! * scored), 9);
    }
    const chosen = out.scores.find((s) => s.candidate === out.chosen)!;
    expect(chosen.robustAccuracy!).toBeGreaterThanOrEqual(out.scores[0].robustAccuracy!);
  });

  it('leaks no tensors', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const start = readModelWeights(model).arrays;
    const once = async () => {
      writeModelWeights(model, start);
      await autoPersonalize(model, data, train, settings({ folds: 2 }), { localOnlyRecipe: { start, config: { ...train, seed: 1 } } });
    };
    await once();
    const before = tf.memory().numTensors;
    await once();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('keptCandidateWeights: what a k-fold selection keeps', () => {
  const g = [Float32Array.from([0, 2]), Float32Array.from([4])];
  const local = [Float32Array.from([1, 0]), Float32Array.from([-4])];
  const refit: Array<[AutoCandidate, Float32Array[]]> = [
    ['global', g],
    ['head', [Float32Array.from([9, 9]), Float32Array.from([9])]],
    ['local-only', [Float32Array.from([7, 7]), Float32Array.from([7])]],
    ['local-mix-0.5', [Float32Array.from([8, 8]), Float32Array.from([8])]],
  ];
  it("with the site's local-only model: that model, and its exact half mix with the global model (no refit)", () => {
    expect(keptCandidateWeights('local-only', g, local, refit)).toBe(local);
    expect(keptCandidateWeights('local-mix-0.5', g, local, refit).map((w) => Array.from(w))).toEqual([[0.5, 1], [0]]);
    expect(LOCAL_MIX_ALPHA).toBe(0.5);
  });
  it('without it (a recipe): the refit ones; any other candidate: the refit one', () => {
    expect(keptCandidateWeights('local-only', g, undefined, refit)).toBe(refit[2][1]);
    expect(keptCandidateWeights('local-mix-0.5', g, undefined, refit)).toBe(refit[3][1]);
    expect(keptCandidateWeights('head', g, local, refit)).toBe(refit[1][1]);
  });
  it('a candidate that was not refit is an internal error, not undefined weights', () => {
    expect(() => keptCandidateWeights('ditto', g, local, refit)).toThrow(/ditto was not refit/);
  });
});
