import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import {
  adversarialAccuracy,
  adversarialAccuracyByLoss,
  autoPersonalize,
  evaluateModel,
  fgsm,
  interpolateWeights,
  GUARD_PGD_STEPS,
  pgd,
  readModelWeights,
  selectPersonalCandidate,
  siteReportWork,
  splitDataset,
  subset,
  validationRobustAccuracy,
  writeModelWeights,
  type PersonalizationSettings,
  type SiteReportInstruction,
  type Splits,
  type TrainConfig,
} from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

const train: TrainConfig = { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all', seed: 3 };
const settings = (s: Partial<PersonalizationSettings> = {}): PersonalizationSettings => ({ mode: 'auto', epochs: 1, lambda: 0.1, validate: true, guard: 'pgd', guardEps: 0.05, ...s });
let data: Splits;

beforeAll(async () => {
  await selectNodeBackend();
  const site = builtinDigitsSites({ sites: 8, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 })[2];
  data = splitDataset(subset(site, Array.from({ length: Math.min(300, site.y.length) }, (_, i) => i)), 9);
});

describe('validationRobustAccuracy: the guard measure on the validation split', () => {
  it.each([
    ['pgd: PGD-5, step 2.5·ε/5', 'pgd', 0.05, { attack: pgd, steps: GUARD_PGD_STEPS, stepSize: (2.5 * 0.05) / 5 }],
    ['fgsm: one step of ε', 'fgsm', 0.05, { attack: fgsm, steps: 1, stepSize: 0.05 }],
    ['pgd at another ε', 'pgd', 0.1, { attack: pgd, steps: GUARD_PGD_STEPS, stepSize: (2.5 * 0.1) / 5 }],
  ] as const)('%s', async (_name, guard, eps, want) => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const got = await validationRobustAccuracy(model, data.validation, guard, eps, 11);
    const params = { eps, steps: want.steps, stepSize: want.stepSize, seed: 11, clipMin: 0, clipMax: 1, batchSize: 128 };
    // The worst case over the cross-entropy and the margin: the cross-entropy's accuracy, then the margin's on what it left.
    const [ce, worst] = await adversarialAccuracyByLoss(model, data.validation, want.attack, params, ['ce', 'margin']);
    expect(ce).toBe(await adversarialAccuracy(model, data.validation, want.attack, params));
    expect(got).toBe(worst);
    // The attack bites: below clean accuracy.
    expect(got!).toBeLessThan(evaluateModel(model, data.validation).accuracy);
    model.dispose();
  });

  it('a candidate made more confident does not pass for more robust: logits × 60 (same predictions, saturated softmax)', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const confident = await loadModelDir(pretrainedModelDir('mlp'));
    const last = confident.layers[confident.layers.length - 1];
    last.setWeights(last.getWeights().map((w) => w.mul(60)));
    const params = { eps: 0.05, steps: GUARD_PGD_STEPS, stepSize: (2.5 * 0.05) / GUARD_PGD_STEPS, seed: 4, clipMin: 0, clipMax: 1, batchSize: 128 };
    // On the cross-entropy alone the confident copy looks far more robust...
    expect(await adversarialAccuracy(confident, data.validation, pgd, params)).toBeGreaterThan((await adversarialAccuracy(model, data.validation, pgd, params)) + 0.1);
    // ...the guard's measure does not fall for it.
    const guarded = (await validationRobustAccuracy(confident, data.validation, 'pgd', 0.05, 4))!;
    expect(guarded).toBeLessThanOrEqual((await validationRobustAccuracy(model, data.validation, 'pgd', 0.05, 4))! + 0.05);
    model.dispose();
    confident.dispose();
  });

  it('PGD-5 is at least as strong as FGSM here, and a larger ε is at least as strong', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const f = (await validationRobustAccuracy(model, data.validation, 'fgsm', 0.01, 1))!;
    const p = (await validationRobustAccuracy(model, data.validation, 'pgd', 0.01, 1))!;
    const big = (await validationRobustAccuracy(model, data.validation, 'pgd', 0.05, 1))!;
    expect(p).toBeLessThanOrEqual(f);
    expect(big).toBeLessThan(p);
    model.dispose();
  });

  it.each([
    ['guard off', 'off', 0.05, (d: Splits) => d.validation],
    ['ε = 0', 'pgd', 0, (d: Splits) => d.validation],
    ['no validation examples', 'fgsm', 0.05, (d: Splits) => subset(d.validation, [])],
  ] as const)('%s: nothing measured', async (_name, guard, eps, pick) => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    expect(await validationRobustAccuracy(model, pick(data), guard, eps, 1)).toBeUndefined();
    model.dispose();
  });
});

describe("mode 'auto' with the guard and the local-only candidate", () => {
  it.each([
    ['pgd', true],
    ['fgsm', true],
    ['off', false],
  ] as const)('guard %s: every candidate robust-scored = %s; the choice is the selection rule\'s and passes the guard', async (guard, scored) => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const out = await autoPersonalize(model, data, train, settings({ guard }));
    for (const s of out.scores) expect(s.robustAccuracy !== undefined, s.candidate).toBe(scored);
    expect(out.chosen).toBe(selectPersonalCandidate(out.scores).candidate);
    const global = out.scores[0];
    const kept = out.scores.find((s) => s.candidate === out.chosen)!;
    if (scored) {
      expect(kept.robustAccuracy!).toBeGreaterThanOrEqual(global.robustAccuracy!);
    }
    // The model holds the chosen weights: its validation accuracy is the kept score.
    expect(evaluateModel(model, data.validation).accuracy).toBe(kept.accuracy);
    model.dispose();
  });

  it('guardEps reaches the measure: a larger ε scores the global model lower (the exclusion itself: select-personal-candidate.test.ts)', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const start = readModelWeights(model).arrays;
    const small = await autoPersonalize(model, data, train, settings({ guardEps: 0.005 }));
    writeModelWeights(model, start);
    const large = await autoPersonalize(model, data, train, settings({ guardEps: 0.05 }));
    expect(small.scores[0].robustAccuracy!).toBeGreaterThan(large.scores[0].robustAccuracy!);
    model.dispose();
  });

  it('the local-only weights are a candidate, scored last, and kept when they are best on validation', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const global = readModelWeights(model).arrays;
    // A strong local-only model: 15 epochs on the site's data from the pretrained model.
    const instruction: SiteReportInstruction = { runId: 'r', round: 1, modelVersion: 1, weights: new Uint8Array(0), train, personalization: settings({ guard: 'off' }), localOnlyEpochs: 15 };
    const work = await siteReportWork(model, data, instruction, { global, pretrained: global });
    const names = work.candidates!.map((c) => c.candidate);
    expect(names).toEqual(['global', 'head', 'full', 'mix-0.25', 'mix-0.5', 'mix-0.75', 'ditto', 'local-only', 'local-mix-0.5']);
    const best = Math.max(...work.candidates!.map((c) => c.accuracy));
    const chosen = work.candidates!.find((c) => c.candidate === work.chosen)!;
    expect(chosen.accuracy).toBe(best);
    expect(work.chosen).toBe(selectPersonalCandidate(work.candidates!).candidate);
    // Without the baseline there is no local-only candidate.
    writeModelWeights(model, global);
    const without = await siteReportWork(model, data, { ...instruction, localOnlyEpochs: undefined }, { global, pretrained: global });
    expect(without.candidates!.map((c) => c.candidate)).not.toContain('local-only');
    expect(without.candidates!.map((c) => c.candidate)).not.toContain('local-mix-0.5');
    model.dispose();
  });

  it('the local-only model (or its half mix with the global one) is chosen when it beats every fine-tune of the global model on validation (a local-only model trained much longer)', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const global = readModelWeights(model).arrays;
    // Candidates from global get 1 epoch; the local-only weights here come from 40 epochs on train.
    const { fitLocal } = await import('@fedtune/shared');
    await fitLocal(model, data.train, { ...train, epochs: 40 });
    const localOnly = readModelWeights(model).arrays;
    writeModelWeights(model, global);
    const out = await autoPersonalize(model, data, { ...train, learningRate: 1e-6 }, settings({ guard: 'off' }), { localOnly });
    const lo = out.scores.find((s) => s.candidate === 'local-only')!;
    for (const s of out.scores) if (s.candidate !== 'local-mix-0.5') expect(s.accuracy).toBeLessThanOrEqual(lo.accuracy);
    expect(out.chosen).toBe(selectPersonalCandidate(out.scores).candidate);
    expect(['local-only', 'local-mix-0.5']).toContain(out.chosen);
    // The kept weights: the given local-only model, or exactly its half mix with the global model.
    const kept = readModelWeights(model).arrays;
    const want = out.chosen === 'local-only' ? localOnly : interpolateWeights(localOnly, global, 0.5);
    expect(kept.every((w, i) => w.every((v, j) => v === want[i][j]))).toBe(true);
    model.dispose();
  });
});
