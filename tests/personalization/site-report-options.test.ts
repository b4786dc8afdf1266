import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, RunConfig, type RunConfigInput } from '@fedtune/coordinator';
import { readModelWeights, siteReportWork, siteRobustnessSummary, splitDataset, subset, type SiteReportInstruction, type SiteRobustnessSettings, type Splits } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { siteReportInstruction, wantsSiteReport } from '../../coordinator/src/engine/site-report-round.ts';

const config = (over: Partial<RunConfigInput>) => RunConfig.parse({ runId: 'opts', ...over });
const instruction = (over: Partial<RunConfigInput>) => siteReportInstruction(config(over), 3, 'site-1', config(over).train, { global: new Uint8Array(8), pretrained: new Uint8Array(8) });

describe('what the coordinator asks of the sites follows the run config', () => {
  it.each([
    ['nothing by default', {}, false],
    ['personalization head', { personalization: { mode: 'head' } }, true],
    ['site robustness only', { siteRobustness: { when: 'final' } }, true],
  ] as Array<[string, Partial<RunConfigInput>, boolean]>)('%s: site report %s', (_name, over, wanted) => {
    expect(wantsSiteReport(config(over))).toBe(wanted);
  });

  it.each([
    ['mode', { personalization: { mode: 'ditto' } }, (i: SiteReportInstruction) => i.personalization?.mode, 'ditto'],
    ['mode auto', { personalization: { mode: 'auto' } }, (i: SiteReportInstruction) => i.personalization?.mode, 'auto'],
    ['epochs', { personalization: { mode: 'head', epochs: 7 } }, (i: SiteReportInstruction) => i.personalization?.epochs, 7],
    ['lambda', { personalization: { mode: 'ditto', lambda: 3 } }, (i: SiteReportInstruction) => i.personalization?.lambda, 3],
    ['learningRate', { personalization: { mode: 'head', learningRate: 0.02 } }, (i: SiteReportInstruction) => i.personalization?.learningRate, 0.02],
    ['validate', { personalization: { mode: 'head', validate: false } }, (i: SiteReportInstruction) => i.personalization?.validate, false],
    ['guard default pgd', { personalization: { mode: 'auto' } }, (i: SiteReportInstruction) => [i.personalization?.guard, i.personalization?.guardEps], ['pgd', 0.05]],
    ['guard fgsm', { personalization: { mode: 'auto', guard: 'fgsm' } }, (i: SiteReportInstruction) => i.personalization?.guard, 'fgsm'],
    ['guard off', { personalization: { mode: 'auto', guard: 'off' } }, (i: SiteReportInstruction) => i.personalization?.guard, 'off'],
    ['guardEps', { personalization: { mode: 'auto', guardEps: 0.1 } }, (i: SiteReportInstruction) => i.personalization?.guardEps, 0.1],
    ['selection default kfold, 5 folds, margin 1', { personalization: { mode: 'auto' } }, (i: SiteReportInstruction) => [i.personalization?.selection, i.personalization?.folds, i.personalization?.selectionMargin], ['kfold', 5, 1]],
    ['selection holdout', { personalization: { mode: 'auto', selection: 'holdout' } }, (i: SiteReportInstruction) => i.personalization?.selection, 'holdout'],
    ['folds', { personalization: { mode: 'auto', folds: 3 } }, (i: SiteReportInstruction) => i.personalization?.folds, 3],
    ['selectionMargin', { personalization: { mode: 'auto', selectionMargin: 2.5 } }, (i: SiteReportInstruction) => i.personalization?.selectionMargin, 2.5],
    ['localOnly: rounds × train.epochs', { rounds: 4, train: { epochs: 3, batchSize: 8, learningRate: 0.01, optimizer: 'adam', trainable: 'all' }, personalization: { mode: 'head' } }, (i: SiteReportInstruction) => i.localOnlyEpochs, 12],
    ['localOnly false', { personalization: { mode: 'head', localOnly: false } }, (i: SiteReportInstruction) => i.localOnlyEpochs, undefined],
    ['no personalisation, no local-only', { siteRobustness: { when: 'final' } }, (i: SiteReportInstruction) => [i.personalization, i.localOnlyEpochs], [undefined, undefined]],
    ['siteRobustness never', { personalization: { mode: 'head' } }, (i: SiteReportInstruction) => i.robustness, undefined],
    ['siteRobustness.examples', { siteRobustness: { when: 'final', examples: 33 } }, (i: SiteReportInstruction) => i.robustness?.examples, 33],
    ['siteRobustness.adversarialExamples', { siteRobustness: { when: 'final', adversarialExamples: 9 } }, (i: SiteReportInstruction) => i.robustness?.adversarialExamples, 9],
    ['siteRobustness.noiseSigmas', { siteRobustness: { when: 'final', noiseSigmas: [0.2] } }, (i: SiteReportInstruction) => i.robustness?.noiseSigmas, [0.2]],
    ['siteRobustness.corruptions', { siteRobustness: { when: 'final', corruptions: false } }, (i: SiteReportInstruction) => i.robustness?.corruptions, false],
    ['siteRobustness.pgdEps', { siteRobustness: { when: 'final', pgdEps: [0.2] } }, (i: SiteReportInstruction) => i.robustness?.pgdEps, [0.2]],
    // The task's headline ε joins the sites' list, in order, as it joins the coordinator's own evaluation (once; never past the cap).
    ['siteRobustness.pgdEps with the headline ε', { siteRobustness: { when: 'final' }, robustness: { headlineEps: 0.06 } }, (i: SiteReportInstruction) => i.robustness?.pgdEps, [0.05, 0.06, 0.1]],
    ['siteRobustness.pgdEps already holding the headline ε', { siteRobustness: { when: 'final', pgdEps: [0.1, 0.06] }, robustness: { headlineEps: 0.06 } }, (i: SiteReportInstruction) => i.robustness?.pgdEps, [0.1, 0.06]],
    ['siteRobustness.pgdEps at the cap', { siteRobustness: { when: 'final', pgdEps: [0.01, 0.02, 0.03, 0.04] }, robustness: { headlineEps: 0.06 } }, (i: SiteReportInstruction) => i.robustness?.pgdEps, [0.01, 0.02, 0.03, 0.04]],
    ['siteRobustness.pgdEps without a headline ε', { siteRobustness: { when: 'final' } }, (i: SiteReportInstruction) => i.robustness?.pgdEps, [0.05, 0.1]],
    ['siteRobustness.pgdSteps', { siteRobustness: { when: 'final', pgdSteps: 3 } }, (i: SiteReportInstruction) => i.robustness?.pgdSteps, 3],
  ] as Array<[string, Partial<RunConfigInput>, (i: SiteReportInstruction) => unknown, unknown]>)('%s reaches the instruction', (_name, over, read, want) => {
    expect(read(instruction(over))).toEqual(want);
  });

  it('refuses out-of-range settings with the field named', () => {
    for (const bad of [{ personalization: { mode: 'all' } }, { personalization: { epochs: 0 } }, { personalization: { lambda: -1 } }, { personalization: { guard: 'cw' } }, { personalization: { guardEps: 1.5 } }, { personalization: { guardEps: -0.1 } }, { personalization: { selection: 'loo' } }, { personalization: { folds: 1 } }, { personalization: { folds: 11 } }, { personalization: { folds: 2.5 } }, { personalization: { selectionMargin: -1 } }, { personalization: { selectionMargin: 11 } }, { siteRobustness: { pgdEps: [0.1, 0.2, 0.3, 0.4, 0.5] } }, { siteRobustness: { when: 'every-round' } }]) {
      expect(() => config(bad as Partial<RunConfigInput>), JSON.stringify(bad)).toThrow(/personalization|siteRobustness/);
    }
  });
});

describe('the site honours the robustness settings and leaks nothing', () => {
  let data: Splits;
  const base: SiteRobustnessSettings = { examples: 40, adversarialExamples: 20, noiseSigmas: [0.3], corruptions: false, pgdEps: [0.1], pgdSteps: 5, seed: 1 };
  beforeAll(async () => {
    await selectNodeBackend();
    const site = builtinDigitsSites({ sites: 8, partition: { kind: 'iid' }, seed: 4 })[0];
    data = splitDataset(subset(site, Array.from({ length: 400 }, (_, i) => i)), 2);
  });

  it.each([
    ['noiseSigmas []', { noiseSigmas: [] }, (s: Awaited<ReturnType<typeof siteRobustnessSummary>>) => s.noiseMean === null],
    ['corruptions true', { corruptions: true }, (s: Awaited<ReturnType<typeof siteRobustnessSummary>>) => s.corruptionMean !== null],
    ['pgdEps two values', { pgdEps: [0.02, 0.1] }, (s: Awaited<ReturnType<typeof siteRobustnessSummary>>) => s.pgd.length === 2 && s.pgd[0].accuracy >= s.pgd[1].accuracy],
    ['adversarialExamples 0', { adversarialExamples: 0 }, (s: Awaited<ReturnType<typeof siteRobustnessSummary>>) => s.pgd.length === 0],
  ] as Array<[string, Partial<SiteRobustnessSettings>, (s: Awaited<ReturnType<typeof siteRobustnessSummary>>) => boolean]>)('%s', async (_name, over, holds) => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const baseline = await siteRobustnessSummary(model, data.test, base);
    const changed = await siteRobustnessSummary(model, data.test, { ...base, ...over });
    model.dispose();
    expect(holds(changed)).toBe(true);
    expect(holds(baseline)).toBe(false);
  });

  it('more PGD steps find at least as many adversarial examples; examples change the sample evaluated', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    // 300 attacked digits, so one step against twenty shows.
    const many = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 4 })[1];
    const test = subset(many, Array.from({ length: 300 }, (_, i) => i));
    const attack = { ...base, examples: 300, adversarialExamples: 300, noiseSigmas: [], pgdEps: [0.006] };
    const weak = await siteRobustnessSummary(model, test, { ...attack, pgdSteps: 1 });
    const strong = await siteRobustnessSummary(model, test, { ...attack, pgdSteps: 20 });
    // Worst case over the cross-entropy and margin losses: a single step of 2.5·ε from the random start is nearly as
    // strong as twenty on this MLP (equal at ε 0.01–0.03); at ε 0.006 twenty steps find one more (35.7 → 35.3 %).
    expect(strong.pgd[0].accuracy).toBeLessThan(weak.pgd[0].accuracy);
    const few = await siteRobustnessSummary(model, data.test, { ...base, examples: 5, adversarialExamples: 5 });
    expect(few).not.toEqual(await siteRobustnessSummary(model, data.test, base));
    model.dispose();
  });

  it('siteReportWork leaks no tensors over repeated reports with every arm', async () => {
    const model = await loadModelDir(pretrainedModelDir('mlp'));
    const global = readModelWeights(model).arrays;
    const work: SiteReportInstruction = {
      runId: 'r',
      round: 1,
      modelVersion: 1,
      weights: new Uint8Array(0),
      train: { epochs: 1, batchSize: 16, learningRate: 0.002, optimizer: 'adam', trainable: 'all', seed: 1 },
      personalization: { mode: 'ditto', epochs: 1, lambda: 0.5, validate: true },
      localOnlyEpochs: 1,
      robustness: { ...base, corruptions: true },
    };
    const once = () => siteReportWork(model, data, work, { global, pretrained: global });
    const first = await once();
    expect(Object.keys(first.arms).sort()).toEqual(['global', 'localOnly', 'personalized', 'pretrained']);
    const before = tf.memory().numTensors;
    await once();
    await once();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('fedbn needs BatchNorm layers', () => {
  it('a run with personalization fedbn and a model without BatchNorm is refused before it starts, with one clear line', async () => {
    const { runSimulation } = await import('../../cli/src/simulation/run-simulation.ts');
    const { tempDir } = await import('../helpers/federation.ts');
    await expect(runSimulation({ sites: 2, rounds: 1, out: tempDir(), transport: 'memory', architecture: 'mlp', config: { personalization: { mode: 'fedbn' } } })).rejects.toMatchObject({
      code: 'config',
      message: expect.stringMatching(/^personalization mode "fedbn" .*has none: use --arch cnn-bn/),
    });
  });
});
