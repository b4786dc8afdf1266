import { describe, expect, it } from 'vitest';
import {
  canonicalHash,
  checkEvaluateInstruction,
  checkFitInstruction,
  checkInitialWeights,
  checkModelInstruction,
  checkModelVocabulary,
  checkSiteReportInstruction,
  checkTrainConfig,
  sha256Hex,
  vocabularyHashOf,
  type FitInstruction,
  type RunTerms,
} from '@fedtune/shared';
import { policy, secAggInstruction } from './terms-fixture.ts';
import { initial, manifest, modelTerms, otherTopology, topology, withModelTerms } from './model-terms-fixture.ts';

// Every refusal of check-instruction.ts with its exact text (the hashes shortened to 16 digits), and the edges of
// each rule: what a site tells its operator and the coordinator when an instruction departs from the terms.
const other = new Uint8Array([9]);
const H = (b: Uint8Array) => sha256Hex(b);
const text = { vocabulary: ['[PAD]', '[UNK]', 'a', 'b'], sequenceLength: 8 };
const otherText = { ...text, vocabulary: ['[PAD]', '[UNK]', 'a', 'c'] };
const base = modelTerms;
const withTerms = withModelTerms;
const train = (over: Record<string, unknown> = {}) => ({ ...structuredClone(base.train), seed: 5, ...over }) as FitInstruction['config'];

describe('checkModelInstruction and checkModelVocabulary', () => {
  it('names both topology hashes, 16 digits each', () => {
    const got = canonicalHash(otherTopology);
    expect(checkModelInstruction({ runId: 'run-1', modelVersion: 0, topology: otherTopology, manifest }, base)).toBe(
      `the model topology (${got.slice(0, 16)}…) is not the one of the terms (${base.model.topologyHash.slice(0, 16)}…)`,
    );
    expect(checkModelInstruction({ runId: 'run-1', modelVersion: 0, topology, manifest }, base)).toBeUndefined();
  });

  const want = vocabularyHashOf(text);
  const got = vocabularyHashOf(otherText);
  const withVocabulary = withTerms((t) => (t.model.vocabularyHash = want));
  it.each([
    ['no vocabulary, none in the terms', undefined, base, undefined],
    ['no vocabulary, one in the terms', undefined, withVocabulary, `the model comes without the vocabulary of the terms (${want.slice(0, 16)}…)`],
    ['a vocabulary the terms do not name', otherText, base, `the model comes with a vocabulary (${got.slice(0, 16)}…) the terms do not name`],
    ['another vocabulary', otherText, withVocabulary, `the model's vocabulary (${got.slice(0, 16)}…) is not the one of the terms (${want.slice(0, 16)}…)`],
    ['the terms\' vocabulary', text, withVocabulary, undefined],
  ] as const)('%s', (_n, section, t, reason) => {
    expect(checkModelVocabulary({ text: section }, t)).toBe(reason);
    // Through the 'model' check too, once the topology and the parameters match.
    expect(checkModelInstruction({ runId: 'run-1', modelVersion: 0, topology, manifest, ...(section ? { text: section } : {}) }, t)).toBe(reason);
  });
});

describe('checkInitialWeights', () => {
  const ref = (b: Uint8Array) => ({ sha256: H(b) });
  it.each([
    ['version 0, the terms\' weights', 0, initial, undefined, undefined],
    ['version 0, other weights', 0, other, undefined, `the initial weights (${H(other).slice(0, 16)}…) are not the ones of the terms (${H(initial).slice(0, 16)}…)`],
    ['version 0, no weights (the site holds them)', 0, undefined, undefined, undefined],
    ['version 0 over HTTP, the terms\' hash', 0, undefined, ref(initial), undefined],
    ['version 0 over HTTP, another hash', 0, undefined, ref(other), `the initial weights referenced (${H(other).slice(0, 16)}…) are not the ones of the terms (${H(initial).slice(0, 16)}…)`],
    ['version 1 over HTTP, another hash (not the initial model)', 1, undefined, ref(other), undefined],
    ['version 1, other weights (not the initial model)', 1, other, undefined, undefined],
  ] as const)('%s', (_n, version, weights, modelRef, reason) => {
    expect(checkInitialWeights(version, weights, base, modelRef)).toBe(reason);
  });
});

describe('checkTrainConfig', () => {
  it('names the first changed field in alphabetical order, its JSON cut at 60 characters', () => {
    // epochs comes before batchSize in the config; the message names batchSize.
    expect(checkTrainConfig(train({ epochs: 9, batchSize: 64 }), base, 1)).toBe("the instruction changes the terms' training: batchSize 32 → 64");
    const corruption = (n: number) => ({ share: 0.5, corruptions: ['x'.repeat(n)] });
    // canonical JSON {"corruptions":["x…x"],"share":0.5}: 32 characters and the name.
    const at = (n: number) => checkTrainConfig(train({ augmentation: corruption(n) }), base, 1);
    expect(at(28)).toBe(`the instruction changes the terms' training: augmentation (absent) → {"corruptions":["${'x'.repeat(28)}"],"share":0.5}`);
    expect(at(29)).toBe(`the instruction changes the terms' training: augmentation (absent) → {"corruptions":["${'x'.repeat(29)}"],"share":0.5…`);
  });

  it('without adversarial training on either side: no ε to compare', () => {
    const plain = withTerms((t) => delete t.train.adversarial);
    expect(checkTrainConfig({ ...train(), adversarial: undefined }, plain, 1)).toBeUndefined();
  });

  const adversarial = withTerms((t) => (t.train.adversarial = { method: 'pgd', share: 1, eps: 0.3, stepSize: 0.1 }));
  const adv = (over: Record<string, unknown>) => ({ ...train(), adversarial: { method: 'pgd', share: 1, eps: 0.3, stepSize: 0.1, ...over } }) as FitInstruction['config'];
  it.each([
    ['as agreed', adv({}), undefined],
    ['a lower ε and step (a warm-up)', adv({ eps: 0.1, stepSize: 0.05 }), undefined],
    ['a higher ε', adv({ eps: 0.31 }), "the instruction's adversarial ε 0.31 exceeds the terms' 0.3"],
    ['a larger step', adv({ stepSize: 0.2 }), "the instruction's adversarial step size 0.2 exceeds the terms' 0.1"],
    ['the step size left out (the default, 2.5·ε/steps, may be larger)', adv({ stepSize: undefined }), 'the instruction changes the terms\' training: adversarial {"eps":0,"method":"pgd","share":1,"stepSize":0} → {"eps":0,"method":"pgd","share":1}'],
  ] as const)('adversarial: %s', (_n, config, reason) => {
    expect(checkTrainConfig(config, adversarial, 1)).toBe(reason);
  });
});

describe('checkFitInstruction: secure aggregation', () => {
  const secureTerms = withTerms((t) => (t.secureAggregation = { clip: 1, threshold: 3 }));
  // Three sites, no neighbours set (everyone is everyone's).
  const secAgg = (over: Record<string, unknown> = {}) => secAggInstruction({ sites: ['a', 'b', 'c'], neighbours: undefined, ...over });
  const fit = (secureAggregation?: Record<string, unknown>): FitInstruction => ({ runId: 'run-1', round: 2, modelVersion: 1, config: train(), ...(secureAggregation ? { secureAggregation } : {}) }) as FitInstruction;
  it.each([
    ['as agreed', fit(secAgg()), secureTerms, undefined],
    ['neighbours the terms do not set', fit(secAgg({ neighbours: 2 })), secureTerms, "the fit's secure-aggregation neighbours 2 are not the terms' (all)"],
    ['no neighbours where the terms set 2', fit(secAgg()), withTerms((t) => (t.secureAggregation = { clip: 1, threshold: 3, neighbours: 2 })), "the fit's secure-aggregation neighbours (all) are not the terms' 2"],
    ['another clip', fit(secAgg({ clip: 2 })), secureTerms, "the fit's secure-aggregation clip 2 is not the terms' 1"],
    ['a lower threshold', fit(secAgg({ threshold: 2 })), secureTerms, "the fit's secure-aggregation threshold 2 is below the terms' 3"],
    ['a plain fit', fit(), secureTerms, 'the terms say secure aggregation and the fit asks for a plain update'],
    ['secure aggregation not in the terms', fit(secAgg()), base, 'the terms say no secure aggregation and the fit asks for it'],
  ] as const)('%s', (_n, instruction, t, reason) => {
    expect(checkFitInstruction(instruction, t, policy())).toBe(reason);
  });
});

describe('round ranges and site reports, exactly', () => {
  it('an evaluation and a site report outside the rounds say which', () => {
    const everyRound = withTerms((t) => (t.federatedEvaluation = 'every-round'));
    expect(checkEvaluateInstruction({ runId: 'run-1', round: 6, modelVersion: 5 }, everyRound)).toBe("an evaluation for round 6, outside the terms' rounds 1..5");
    const report = withTerms((t) => (t.siteReport = {}));
    const instruction = (over: Record<string, unknown> = {}) => ({ runId: 'run-1', round: 5, modelVersion: 5, weights: new Uint8Array([1]), train: train(), ...over }) as never;
    expect(checkSiteReportInstruction(instruction({ round: 0 }), report, policy())).toBe("a site report for round 0, outside the terms' rounds 1..5");
    expect(checkSiteReportInstruction(instruction({ pretrained: other }), report, policy())).toBe(`the site report's pretrained weights (${H(other).slice(0, 16)}…) are not the terms' initial weights`);
    expect(checkSiteReportInstruction(instruction({ pretrained: initial }), report, policy())).toBeUndefined();
  });
});
