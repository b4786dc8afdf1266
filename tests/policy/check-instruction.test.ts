import { describe, expect, it } from 'vitest';
import {
  canonicalHash,
  checkEvaluateInstruction,
  checkFitInstruction,
  checkModelInstruction,
  checkSiteReportInstruction,
  sha256Hex,
  SiteTermsGuard,
  type FitInstruction,
  scheduledTrain,
  type RunTerms,
} from '@fedtune/shared';
import { policy, secAggInstruction, signed, terms } from './terms-fixture.ts';

const topology = { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { units: 4 } }] } };
const initial = new Uint8Array([1, 2, 3, 4]);
const base = terms((t) => {
  t.model.topologyHash = canonicalHash(topology);
  t.model.initialWeightsHash = sha256Hex(initial);
  t.train.adversarial = { method: 'pgd', share: 1, eps: 0.3, stepSize: 0.1, warmupRounds: 3 };
});
const withTerms = (change: (t: RunTerms) => void) => {
  const t = structuredClone(base);
  change(t);
  return t;
};
const secureTerms = withTerms((t) => {
  t.secureAggregation = { clip: 1, threshold: 3, neighbours: 4 };
});
const scheduledTerms = withTerms((t) => {
  t.train.learningRateSchedule = { kind: 'cosine', finalFactor: 0.1 };
});
const secAgg = secAggInstruction;
const fit = (over: Partial<FitInstruction> = {}, config: Record<string, unknown> = {}): FitInstruction => ({
  runId: 'run-1',
  round: 1,
  modelVersion: 1,
  config: { ...structuredClone(base.train), seed: 12345, ...config } as FitInstruction['config'],
  ...over,
});

describe('checkFitInstruction', () => {
  const cases: Array<[string, FitInstruction, RunTerms, RegExp | null]> = [
    ['as agreed', fit(), base, null],
    ['any seed', fit({}, { seed: 999 }), base, null],
    ['last round', fit({ round: 5 }), base, null],
    ['round after the last', fit({ round: 6 }), base, /fit for round 6, outside the terms' rounds 1\.\.5/],
    ['round 0', fit({ round: 0 }), base, /outside the terms' rounds/],
    ['another run', fit({ runId: 'run-2' }), base, /another run than the accepted terms' run-1/],
    ['changed epochs', fit({}, { epochs: 3 }), base, /changes the terms' training: epochs 2 → 3/],
    ['changed learning rate', fit({}, { learningRate: 0.1 }), base, /learningRate 0.01 → 0.1/],
    ['more examples', fit({}, { maxExamples: 101 }), base, /maxExamples 100 → 101/],
    ['DP-SGD added', fit({}, { dpSgd: { clip: 1, noiseMultiplier: 1 } }), base, /dpSgd \(absent\) →/],
    ['DP-SGD removed', fit(), withTerms((t) => (t.train.dpSgd = { clip: 1, noiseMultiplier: 1 })), /dpSgd \{"clip":1,"noiseMultiplier":1\} → \(absent\)/],
    ['DP-SGD noise lowered', fit({}, { dpSgd: { clip: 1, noiseMultiplier: 0.5 } }), withTerms((t) => (t.train.dpSgd = { clip: 1, noiseMultiplier: 1 })), /dpSgd/],
    ['warm-up ε lower than agreed', fit({}, { adversarial: { ...base.train.adversarial!, eps: 0.1, stepSize: 0.1 / 3 } }), base, null],
    ['ε equal to agreed', fit({}, { adversarial: { ...base.train.adversarial!, eps: 0.3 } }), base, null],
    ['ε above agreed', fit({}, { adversarial: { ...base.train.adversarial!, eps: 0.31 } }), base, /adversarial ε 0.31 exceeds the terms' 0.3/],
    ['step size above agreed', fit({}, { adversarial: { ...base.train.adversarial!, stepSize: 0.2 } }), base, /step size 0.2 exceeds the terms' 0.1/],
    ['other adversarial field changed', fit({}, { adversarial: { ...base.train.adversarial!, share: 0.5 } }), base, /adversarial/],
    ['the schedule’s rate of round 1', fit({ round: 1 }, { learningRate: 0.01 }), scheduledTerms, null],
    ['the schedule’s rate of round 5', fit({ round: 5 }, { learningRate: scheduledTrain(scheduledTerms.train, 5, 5).learningRate }), scheduledTerms, null],
    ['round 1’s rate in round 5 of a schedule', fit({ round: 5 }, { learningRate: 0.01 }), scheduledTerms, /learningRate 0\.001\d* → 0\.01/],
    ['a scheduled rate without the schedule in the terms', fit({ round: 5 }, { learningRate: 0.001 }), base, /learningRate 0\.01 → 0\.001/],
    ['the schedule itself forwarded', fit({ round: 1 }, { learningRateSchedule: { kind: 'cosine', finalFactor: 0.1 } }), scheduledTerms, /learningRateSchedule \(absent\) →/],
    ['initial weights as agreed', fit({ modelVersion: 0, weights: initial }), base, null],
    ['other initial weights', fit({ modelVersion: 0, weights: new Uint8Array([9]) }), base, /initial weights .* are not the ones of the terms/],
    ['weights of a later version are not pinned', fit({ modelVersion: 2, weights: new Uint8Array([9]) }), base, null],
    ['secure aggregation as agreed', fit({ secureAggregation: secAgg() }), secureTerms, null],
    ['secure aggregation dropped', fit(), secureTerms, /terms say secure aggregation and the fit asks for a plain update/],
    ['secure aggregation added', fit({ secureAggregation: secAgg() }), base, /terms say no secure aggregation/],
    ['secure clip changed', fit({ secureAggregation: secAgg({ clip: 2 }) }), secureTerms, /clip 2 is not the terms' 1/],
    ['secure neighbours changed', fit({ secureAggregation: secAgg({ neighbours: undefined }) }), secureTerms, /neighbours \(all\) are not the terms' 4/],
    ['secure threshold lowered', fit({ secureAggregation: secAgg({ threshold: 2 }) }), secureTerms, /threshold 2 is below the terms' 3/],
    ['secure threshold raised', fit({ secureAggregation: secAgg({ threshold: 4 }) }), secureTerms, null],
    ['DP on secure sum must weigh uniformly', fit({ secureAggregation: secAgg() }), withTerms((t) => { t.secureAggregation = { clip: 1, threshold: 3, neighbours: 4 }; t.dp = { noiseMultiplier: 1, clip: 1, delta: 1e-5, noise: 'central' }; }), /weighs sites by their example counts/],
    ['DP on secure sum, uniform', fit({ secureAggregation: secAgg({ weighting: 'uniform' }) }), withTerms((t) => { t.secureAggregation = { clip: 1, threshold: 3, neighbours: 4 }; t.dp = { noiseMultiplier: 1, clip: 1, delta: 1e-5, noise: 'central' }; }), null],
  ];
  it.each(cases)('%s', (_n, f, t, refused) => {
    const reason = checkFitInstruction(f, t, policy());
    if (refused === null) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });

  it.each([
    [4, null],
    [5, /would hold 4 sites, fewer than the policy's minSites 5/],
  ] as const)('policy minSites %i against 4 invited sites', (minSites, refused) => {
    const reason = checkFitInstruction(fit({ secureAggregation: secAgg() }), secureTerms, policy({ aggregation: { minSites } }));
    if (refused === null) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });
});

describe('checkFitInstruction: distributed DP noise exactly as the terms say', () => {
  const dpTerms = (noise: 'central' | 'distributed' | undefined) => withTerms((t) => {
    t.secureAggregation = { clip: 1, threshold: 3, neighbours: 4 };
    if (noise) t.dp = { noiseMultiplier: 1, clip: 1, delta: 1e-5, noise };
  });
  // secAgg(): clip 1, threshold 3, scale 1000, weight 1/10 → (z·C·s·w)²/t = (z·100)²/3.
  const variance = (z: number) => (z * 100) ** 2 / 3;
  const withNoise = (noiseMultiplier: number, v = variance(noiseMultiplier)) => fit({ secureAggregation: secAgg({ weighting: 'uniform', distributedNoise: { mechanism: 'discrete-gaussian', noiseMultiplier, variance: v } }) });
  const without = fit({ secureAggregation: secAgg({ weighting: 'uniform' }) });
  const cases: Array<[string, FitInstruction, RunTerms, RegExp | null]> = [
    ['as agreed (z = 1)', withNoise(1), dpTerms('distributed'), null],
    ['absent', without, dpTerms('distributed'), /^the terms say distributed DP noise \(z = 1\) and the fit asks the site to add none$/],
    ['zero (self-consistent z 0, variance 0)', withNoise(0), dpTerms('distributed'), /^the fit's distributed noise multiplier 0 is not the terms' 1$/],
    ['lower z', withNoise(0.5), dpTerms('distributed'), /^the fit's distributed noise multiplier 0\.5 is not the terms' 1$/],
    ['higher z (the ledger books the terms\' z)', withNoise(2), dpTerms('distributed'), /^the fit's distributed noise multiplier 2 is not the terms' 1$/],
    ['wrong variance for z', withNoise(1, variance(1) / 4), dpTerms('distributed'), /^the fit's distributed noise variance 833\.3+\d* is not \(z·C·s·w\)²\/t = 3333\.3+\d* for the terms' z = 1$/],
    ['zero variance for z', withNoise(1, 0), dpTerms('distributed'), /distributed noise variance 0 is not/],
    ['present under central DP', withNoise(1), dpTerms('central'), /^the terms say central DP noise and the fit asks the site to add distributed noise$/],
    ['absent under central DP', without, dpTerms('central'), null],
    ['present without DP', withNoise(1), dpTerms(undefined), /^the terms say no DP and the fit asks the site to add distributed noise$/],
    ['absent without DP', without, dpTerms(undefined), null],
  ];
  it.each(cases)('%s', (_n, f, t, refused) => {
    const reason = checkFitInstruction(f, t, policy());
    if (refused === null) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });
});

describe('checkModelInstruction', () => {
  // The terms' 1000 parameters: a 10×96 kernel and a 40-value bias.
  const manifest = [
    { name: 'dense/kernel', shape: [10, 96], dtype: 'float32' },
    { name: 'dense/bias', shape: [40], dtype: 'float32' },
  ];
  it.each([
    ['the terms\' topology', { runId: 'run-1', modelVersion: 0, topology, manifest }, null],
    ['the same topology, keys in another order', { runId: 'run-1', modelVersion: 0, topology: { config: topology.config, class_name: 'Sequential' }, manifest }, null],
    ['a different topology', { runId: 'run-1', modelVersion: 0, topology: { ...topology, class_name: 'Trap' }, manifest }, /the model topology .* is not the one of the terms/],
    ['another run', { runId: 'x', modelVersion: 0, topology, manifest }, /another run/],
    // More parameters than the terms announced (which the site's policy judged): refused before the model is built.
    ['a manifest larger than the terms', { runId: 'run-1', modelVersion: 0, topology, manifest: [{ name: 'dense/kernel', shape: [100_000, 100_000], dtype: 'float32' }] }, /^the model's manifest holds 10000000000 parameters, the terms 1000$/],
    ['a manifest one parameter short', { runId: 'run-1', modelVersion: 0, topology, manifest: [manifest[0], { ...manifest[1], shape: [39] }] }, /^the model's manifest holds 999 parameters, the terms 1000$/],
    ['an empty manifest', { runId: 'run-1', modelVersion: 0, topology, manifest: [] }, /^the model's manifest holds 0 parameters, the terms 1000$/],
  ] as const)('%s', (_n, m, refused) => {
    const reason = checkModelInstruction(m as never, base);
    if (refused === null) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });
});

describe('checkEvaluateInstruction', () => {
  const ev = (round: number, calibration?: { betas: number[] }) => ({ runId: 'run-1', round, modelVersion: round, ...(calibration ? { calibration } : {}) });
  const fe = (f: RunTerms['federatedEvaluation'], cal?: boolean) => withTerms((t) => { t.federatedEvaluation = f; if (cal) t.federatedCalibration = true; });
  it.each([
    ['never', fe('never'), ev(5), /no federated evaluation/],
    ['final, final round', fe('final'), ev(5), null],
    ['final, earlier round', fe('final'), ev(4), /final round \(5\) only, not of round 4/],
    ['every round, round 1', fe('every-round'), ev(1), null],
    ['every round, beyond the last', fe('every-round'), ev(6), /outside the terms' rounds/],
    ['calibration not in the terms', fe('every-round'), ev(2, { betas: [1] }), /no federated calibration/],
    ['calibration in the terms', fe('never', true), ev(2, { betas: [1] }), null],
    ['other initial weights', fe('every-round'), { runId: 'run-1', round: 1, modelVersion: 0, weights: new Uint8Array([7]) }, /initial weights/],
  ] as const)('%s', (_n, t, e, refused) => {
    const reason = checkEvaluateInstruction(e as never, t);
    if (refused === null) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });
});

describe('checkSiteReportInstruction', () => {
  const report = (over: Record<string, unknown> = {}) => ({ runId: 'run-1', round: 5, modelVersion: 5, weights: new Uint8Array([1]), train: { ...structuredClone(base.train), seed: 3 }, ...over });
  const withReport = withTerms((t) => (t.siteReport = {}));
  const personalization = { mode: 'auto', epochs: 3, lambda: 0.1, validate: true, selection: 'kfold', folds: 5, selectionMargin: 1 } as const;
  const robustness = { examples: 200, adversarialExamples: 100, noiseSigmas: [0.1, 0.3], corruptions: true, pgdEps: [0.05, 0.06, 0.1], pgdSteps: 20 };
  const withFull = withTerms((t) => (t.siteReport = { personalization, localOnlyEpochs: 10, robustness }));
  const full = (over: Record<string, unknown> = {}) => report({ personalization, localOnlyEpochs: 10, robustness: { ...robustness, seed: 77 }, ...over });
  it.each([
    ['not in the terms', base, report(), /no per-site report/],
    ['in the terms', withReport, report(), null],
    ['personalisation, baseline and robustness as the terms state them (the robustness seed is the run\'s)', withFull, full(), null],
    ['another robustness seed', withFull, full({ robustness: { ...robustness, seed: 1 } }), null],
    ['more personalisation epochs', withFull, full({ personalization: { ...personalization, epochs: 1000 } }), /changed terms: the site report's personalization \{.*"epochs":3.*\} → \{.*"epochs":1000.*\}/],
    ['another personalisation mode', withFull, full({ personalization: { ...personalization, mode: 'ditto' } }), /the site report's personalization/],
    ['personalisation the terms do not state', withReport, report({ personalization }), /the site report's personalization \(absent\) → \{/],
    ['100,000 local-only epochs instead of 10', withFull, full({ localOnlyEpochs: 100_000 }), /the site report's localOnlyEpochs 10 → 100000/],
    ['no local-only baseline where the terms state one', withFull, full({ localOnlyEpochs: undefined }), /localOnlyEpochs 10 → \(absent\)/],
    ['robustness on one example', withFull, full({ robustness: { ...robustness, examples: 1, adversarialExamples: 1, seed: 77 } }), /the site report's robustness \{.*"examples":200.*\} → \{.*"examples":1.*\}/],
    ['robustness the terms do not state', withReport, report({ robustness: { ...robustness, seed: 77 } }), /the site report's robustness \(absent\)/],
    ['more PGD steps', withFull, full({ robustness: { ...robustness, pgdSteps: 1000, seed: 77 } }), /the site report's robustness/],
    ['pretrained = initial weights', withReport, report({ pretrained: initial }), null],
    ['other pretrained weights', withReport, report({ pretrained: new Uint8Array([5]) }), /pretrained weights .* are not the terms' initial weights/],
    ['changed training', withReport, report({ train: { ...structuredClone(base.train), seed: 3, epochs: 9 } }), /epochs 2 → 9/],
    ['beyond the last round', withReport, report({ round: 6 }), /outside the terms' rounds/],
  ] as const)('%s', (_n, t, r, refused) => {
    const reason = checkSiteReportInstruction(r as never, t, policy());
    if (refused === null) expect(reason).toBeUndefined();
    else expect(reason).toMatch(refused);
  });
});

/**
 * privacy.minExamplesPerMetric at every instruction, whatever the accepted terms said (a guard built with a
 * looser policy, terms accepted before the bound): a fit or a site report whose metrics would cover fewer
 * examples than the bound is refused with the same reason as at join.
 */
describe('instructions against privacy.minExamplesPerMetric', () => {
  const fitWith = (n: number) => ({ runId: 'run-1', round: 1, modelVersion: 0, config: { ...structuredClone(base.train), maxExamples: n, seed: 3 } });
  const termsWith = (n: number) => withTerms((t) => (t.train.maxExamples = n));
  it.each([
    ['a fit at the bound', 20, undefined],
    ['a fit one below the bound', 19, "the run asks for train.maxExamples 19, fewer than the policy's minExamplesPerMetric 20 (every round's reported training loss and accuracy would cover that few examples)"],
    ['a fit of one example', 1, "the run asks for train.maxExamples 1, fewer than the policy's minExamplesPerMetric 20 (every round's reported training loss and accuracy would cover that few examples)"],
  ] as const)('%s', (_n, n, reason) => {
    expect(checkFitInstruction(fitWith(n) as never, termsWith(n), policy())).toBe(reason);
  });

  const robustness = { examples: 20, adversarialExamples: 20, noiseSigmas: [0.1], corruptions: false, pgdEps: [0.05], pgdSteps: 5 };
  const reportWith = (over: Partial<typeof robustness>) => ({ runId: 'run-1', round: 5, modelVersion: 5, weights: new Uint8Array([1]), train: { ...structuredClone(base.train), seed: 3 }, robustness: { ...robustness, ...over, seed: 7 } });
  const reportTerms = (over: Partial<typeof robustness>) => withTerms((t) => (t.siteReport = { robustness: { ...robustness, ...over } }));
  it.each([
    ['a site report at the bound', {}, undefined],
    ['a site report evaluating one below', { examples: 19, adversarialExamples: 0 }, "the run's site report evaluates robustness on 19 test examples, fewer than the policy's minExamplesPerMetric 20"],
    ['a site report attacking one below', { adversarialExamples: 19 }, "the run's site report attacks 19 test examples, fewer than the policy's minExamplesPerMetric 20"],
    ['a site report both evaluating and attacking below: both reasons, joined', { examples: 5, adversarialExamples: 3 }, "the run's site report evaluates robustness on 5 test examples, fewer than the policy's minExamplesPerMetric 20; the run's site report attacks 3 test examples, fewer than the policy's minExamplesPerMetric 20"],
  ] as const)('%s', (_n, over, reason) => {
    expect(checkSiteReportInstruction(reportWith(over) as never, reportTerms(over), policy())).toBe(reason);
  });

  it('a guard whose policy allows fewer accepts them', () => {
    expect(checkFitInstruction(fitWith(1) as never, termsWith(1), policy({ privacy: { minExamplesPerMetric: 1 } }))).toBeUndefined();
  });
});

describe('SiteTermsGuard', () => {
  it('refuses instructions before terms, accepts after, and stays broken after a breach', () => {
    const guard = new SiteTermsGuard(policy());
    expect(guard.checkInstruction({ event: 'fit', payload: fit() })).toMatch(/"fit" arrived before this site accepted the run's terms/);
    const guard2 = new SiteTermsGuard(policy());
    const s = signed(base);
    expect(guard2.onTerms(s, 'run-1')).toEqual({ accept: true, hash: s.hash });
    expect(guard2.checkInstruction({ event: 'fit', payload: fit() })).toBeUndefined();
    expect(guard2.checkInstruction({ event: 'rejected', payload: { code: 'x', reason: 'y' } })).toBeUndefined();
    expect(guard2.checkInstruction({ event: 'fit', payload: fit({}, { epochs: 9 }) })).toMatch(/epochs/);
    // Once broken, even an instruction as agreed is refused, and so are the same terms again.
    expect(guard2.checkInstruction({ event: 'fit', payload: fit() })).toMatch(/epochs/);
    expect(guard2.onTerms(s, 'run-1')).toMatchObject({ accept: false });
  });

  it('the same terms again (a reconnect) are accepted; changed terms are refused', () => {
    const guard = new SiteTermsGuard(policy());
    const s = signed(base);
    guard.onTerms(s, 'run-1');
    expect(guard.onTerms(s, 'run-1')).toEqual({ accept: true, hash: s.hash });
    expect(guard.onTerms(signed(withTerms((t) => (t.rounds = 50))), 'run-1')).toEqual({ accept: false, reason: "the coordinator changed the run's terms after this site accepted them" });
  });

  it('terms of another run than the welcome are refused; the policy cap is kept', () => {
    expect(new SiteTermsGuard(policy()).onTerms(signed(base), 'run-2')).toMatchObject({ accept: false, reason: expect.stringMatching(/for run run-1, not the run run-2/) });
    const guard = new SiteTermsGuard(policy({ training: { maxExamplesPerRound: 10 }, privacy: { minExamplesPerMetric: 10 } }));
    guard.onTerms(signed(base), 'run-1');
    expect(guard.maxExamples).toBe(10);
    expect(guard.terms?.runId).toBe('run-1');
  });
});
