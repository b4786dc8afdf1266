import { describe, expect, it } from 'vitest';
import { checkRunTerms, verifyTermsSignature, type RunTerms, type SitePolicyInput } from '@fedtune/shared';
import { CoordinatorIdentity } from '@fedtune/coordinator';
import { H, identity, policy, signed, terms } from './terms-fixture.ts';

const dp = (noiseMultiplier = 1, delta = 1e-5, noise: 'central' | 'distributed' = 'central') => (t: RunTerms) => {
  t.dp = { noiseMultiplier, clip: 1, delta, noise };
};
const secagg = (t: RunTerms) => {
  t.secureAggregation = { clip: 1 };
};
const dpSgd = (delta?: number, noiseMultiplier = 1) => (t: RunTerms) => {
  t.train.dpSgd = { clip: 1, noiseMultiplier, ...(delta !== undefined ? { delta } : {}) };
};
const both = (...fs: Array<(t: RunTerms) => void>) => (t: RunTerms) => fs.forEach((f) => f(t));

// Every SitePolicy field, both sides of each boundary: [name, policy, change to the terms, refused reason pattern or null (accepted)].
const cases: Array<[string, SitePolicyInput, (t: RunTerms) => void, RegExp | null]> = [
  ['no policy accepts a plain run', {}, () => {}, null],
  ['coordinators: listed key', { coordinators: [identity.publicKey] }, () => {}, null],
  ['coordinators: other key', { coordinators: [H('c')] }, () => {}, /is not one of the policy's coordinators/],
  ['architectures: allowed', { model: { architectures: ['cnn', 'mlp'] } }, () => {}, null],
  ['architectures: not allowed', { model: { architectures: ['cnn'] } }, () => {}, /model architecture "mlp" is not allowed \(policy: cnn\)/],
  ['hashes: pinned', { model: { hashes: [H('a')] } }, () => {}, null],
  ['hashes: not pinned', { model: { hashes: [H('d')] } }, () => {}, /model topology aaaaaaaaaaaaaaaa… is not one of the policy's pinned hashes/],
  ['maxParameters: equal', { model: { maxParameters: 1000 } }, () => {}, null],
  ['maxParameters: one below', { model: { maxParameters: 999 } }, () => {}, /the model has 1000 parameters, more than the policy's maxParameters 999/],
  // The default (2^25): a coordinator cannot name a model of hundreds of millions of parameters to a site that set no limit.
  ['maxParameters: the default, at it', {}, (t) => void (t.model.parameters = 33_554_432), null],
  ['maxParameters: the default, one above', {}, (t) => void (t.model.parameters = 33_554_433), /the model has 33554433 parameters, more than the policy's maxParameters 33554432/],
  ['maxRounds: equal', { training: { maxRounds: 5 } }, () => {}, null],
  ['maxRounds: one below', { training: { maxRounds: 4 } }, () => {}, /asks for 5 rounds, more than the policy's maxRounds 4/],
  ['maxEpochs: equal', { training: { maxEpochs: 2 } }, () => {}, null],
  ['maxEpochs: one below', { training: { maxEpochs: 1 } }, () => {}, /asks for 2 epochs per round, more than the policy's maxEpochs 1/],
  // The site report's local-only baseline and personalisation: at most maxEpochs × rounds (2 × 5 here) each; they were not judged at all.
  ['maxEpochs: local-only baseline at maxEpochs × rounds', { training: { maxEpochs: 2 } }, (t) => (t.siteReport = { localOnlyEpochs: 10 }), null],
  ['maxEpochs: local-only baseline one past it', { training: { maxEpochs: 2 } }, (t) => (t.siteReport = { localOnlyEpochs: 11 }), /site report asks for 11 local-only epochs, more than the policy's maxEpochs 2 × 5 rounds = 10/],
  ['maxEpochs: 100,000 local-only epochs', { training: { maxEpochs: 2 } }, (t) => (t.siteReport = { localOnlyEpochs: 100_000 }), /100000 local-only epochs/],
  ['maxEpochs: personalisation at maxEpochs × rounds', { training: { maxEpochs: 2 } }, (t) => (t.siteReport = { personalization: { mode: 'head', epochs: 10, lambda: 0, validate: true } }), null],
  ['maxEpochs: personalisation one past it', { training: { maxEpochs: 2 } }, (t) => (t.siteReport = { personalization: { mode: 'head', epochs: 11, lambda: 0, validate: true } }), /site report asks for 11 personalisation epochs, more than the policy's maxEpochs 2 × 5 rounds = 10/],
  ['no maxEpochs: any site report', {}, (t) => (t.siteReport = { localOnlyEpochs: 100_000, personalization: { mode: 'head', epochs: 1000, lambda: 0, validate: true } }), null],
  ['maxExamplesPerRound: never a refusal', { training: { maxExamplesPerRound: 1 }, privacy: { minExamplesPerMetric: 1 } }, () => {}, null],
  ['requireSecureAggregation: on, run has it', { aggregation: { requireSecureAggregation: true } }, secagg, null],
  ['requireSecureAggregation: on, run has none', { aggregation: { requireSecureAggregation: true } }, () => {}, /requires secure aggregation and the run does not use it/],
  ['requireSecureAggregation: off', { aggregation: { requireSecureAggregation: false } }, () => {}, null],
  ['minSites: equal', { aggregation: { minSites: 3 } }, () => {}, null],
  ['minSites: one above', { aggregation: { minSites: 4 } }, () => {}, /aggregates as few as 3 sites, fewer than the policy's minSites 4/],
  ['require none', { privacy: { require: 'none' } }, () => {}, null],
  // The site report's local-only baseline and personalised model train without DP and send their metrics: a site that
  // requires DP or keeps an ε budget refuses such a report; a site that requires nothing, or a report that only evaluates, joins.
  ['private site: site report with a local-only baseline', { privacy: { require: 'record' } }, both(dpSgd(), (t) => (t.siteReport = { localOnlyEpochs: 3 })), /^the run's site report trains a local-only baseline on this site's records without differential privacy and sends their metrics: outside the DP guarantee and ε budget the policy requires$/],
  ['private site: site report with a personalised model', { privacy: { require: 'client' } }, both(dp(), (t) => (t.siteReport = { personalization: { mode: 'ditto', epochs: 2, lambda: 0.1, validate: true } })), /trains a personalised model \(ditto\) on this site's records without differential privacy/],
  ['private site: both', { privacy: { require: 'any' } }, both(dpSgd(), (t) => (t.siteReport = { localOnlyEpochs: 3, personalization: { mode: 'head', epochs: 2, lambda: 0, validate: true } })), /trains a local-only baseline and a personalised model \(head\) on this site's records/],
  ['ε budget per run only: a site report that trains is refused', { privacy: { maxEpsilonPerRun: 8 } }, both(dpSgd(), (t) => (t.siteReport = { localOnlyEpochs: 3 })), /trains a local-only baseline/],
  ['ε budget in total only: a site report that trains is refused', { privacy: { maxEpsilonTotal: 8 } }, both(dpSgd(), (t) => (t.siteReport = { personalization: { mode: 'head', epochs: 2, lambda: 0, validate: true } })), /trains a personalised model \(head\)/],
  ['private site: a site report that only evaluates (no training) joins', { privacy: { require: 'record' } }, both(dpSgd(), (t) => (t.siteReport = { personalization: { mode: 'none', epochs: 1, lambda: 0, validate: true } })), null],
  ['no privacy required: a site report that trains joins', { privacy: { require: 'none' } }, (t) => (t.siteReport = { localOnlyEpochs: 3, personalization: { mode: 'head', epochs: 2, lambda: 0, validate: true } }), null],
  ['require record: DP-SGD', { privacy: { require: 'record' } }, dpSgd(), null],
  ['require record: client DP only', { privacy: { require: 'record' } }, dp(), /requires record-level DP/],
  ['require client: DP-FedAvg', { privacy: { require: 'client' } }, dp(), null],
  ['require client: DP-SGD only', { privacy: { require: 'client' } }, dpSgd(), /requires client-level DP \(DP-FedAvg\)/],
  ['require any: DP-SGD', { privacy: { require: 'any' } }, dpSgd(), null],
  ['require any: client DP', { privacy: { require: 'any' } }, dp(), null],
  ['require any: none', { privacy: { require: 'any' } }, () => {}, /requires differential privacy and the run uses none/],
  ['minNoiseMultiplier: equal', { privacy: { minNoiseMultiplier: 1 } }, dp(1), null],
  ['minNoiseMultiplier: just below', { privacy: { minNoiseMultiplier: 1 } }, dp(0.99), /noise multiplier 0.99 is below the policy's minNoiseMultiplier 1/],
  ['minNoiseMultiplier: no client DP', { privacy: { minNoiseMultiplier: 1 } }, dpSgd(), /uses no client-level DP/],
  ['requireDistributedNoise: distributed under secagg', { privacy: { requireDistributedNoise: true } }, both(secagg, dp(1, 1e-5, 'distributed')), null],
  ['requireDistributedNoise: central under secagg', { privacy: { requireDistributedNoise: true } }, both(secagg, dp(1, 1e-5, 'central')), /requires distributed noise/],
  ['requireDistributedNoise: distributed without secagg', { privacy: { requireDistributedNoise: true } }, dp(1, 1e-5, 'distributed'), /requires distributed noise/],
  ['requireDistributedNoise: no DP', { privacy: { requireDistributedNoise: true } }, secagg, /requires distributed noise/],
  ['maxDelta: client δ equal', { privacy: { maxDelta: 1e-5 } }, dp(1, 1e-5), null],
  ['maxDelta: client δ above', { privacy: { maxDelta: 1e-5 } }, dp(1, 2e-5), /client-level δ 0.00002 is above the policy's maxDelta 0.00001/],
  ['maxDelta: DP-SGD default δ (1e-5) equal', { privacy: { maxDelta: 1e-5 } }, dpSgd(), null],
  ['maxDelta: DP-SGD default δ above', { privacy: { maxDelta: 1e-6 } }, dpSgd(), /DP-SGD δ 0.00001 is above/],
  ['maxDelta: DP-SGD explicit δ above', { privacy: { maxDelta: 1e-5 } }, dpSgd(1e-4), /DP-SGD δ 0.0001 is above/],
  ['maxDelta: no DP is no δ', { privacy: { maxDelta: 1e-9 } }, () => {}, null],
];

describe('checkRunTerms: every SitePolicy field, both sides of each boundary', () => {
  it.each(cases)('%s', (_name, p, change, refused) => {
    const verdict = checkRunTerms(signed(terms(change)), policy(p));
    if (refused === null) {
      expect(verdict).toMatchObject({ ok: true });
    } else {
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) {
        expect(verdict.reasons).toHaveLength(1);
        expect(verdict.reason).toMatch(refused);
      }
    }
  });

  it('lists every reason of a refusal, joined on one line', () => {
    const verdict = checkRunTerms(signed(terms()), policy({ training: { maxRounds: 1, maxEpochs: 1 }, privacy: { require: 'record' } }));
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.reasons).toHaveLength(3);
      expect(verdict.reason).toBe(verdict.reasons.join('; '));
      expect(verdict.reason).not.toMatch(/\n/);
    }
  });

  it('the accepted hash is the terms\' hash', () => {
    const s = signed(terms());
    expect(checkRunTerms(s, policy())).toEqual({ ok: true, hash: s.hash });
  });
});

describe('checkRunTerms: examples per round are capped, not refused', () => {
  it.each([
    ['terms ask more than the policy: capped to the policy', 100, 40, 40],
    ['terms ask exactly the policy: no cap', 100, 100, undefined],
    ['terms ask less: no cap', 100, 101, undefined],
    ['terms ask no limit: capped to the policy', undefined, 40, 40],
    ['no policy limit: no cap', 100, undefined, undefined],
  ] as const)('%s', (_n, asked, cap, expected) => {
    const t = terms((x) => {
      if (asked === undefined) delete x.train.maxExamples;
      else x.train.maxExamples = asked;
    });
    const verdict = checkRunTerms(signed(t), policy(cap === undefined ? {} : { training: { maxExamplesPerRound: cap } }));
    expect(verdict.ok).toBe(true);
    if (verdict.ok) expect(verdict.maxExamples).toBe(expected);
  });
});

describe('checkRunTerms: authenticity', () => {
  it('refuses terms altered after signing (hash mismatch)', () => {
    const s = signed(terms());
    const altered = { ...s, terms: { ...s.terms, rounds: 50 } };
    const verdict = checkRunTerms(altered, policy());
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/do not match their hash/) });
  });

  it('refuses terms re-hashed but signed by another key than the one they name', () => {
    const other = CoordinatorIdentity.generate();
    const verdict = checkRunTerms(signed(terms(), other), policy());
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/signature is not coordinator/) });
  });

  it('a garbage signature never throws', () => {
    const s = signed(terms());
    expect(verifyTermsSignature(s.hash, 'f'.repeat(128), s.terms.coordinator)).toBe(false);
    expect(verifyTermsSignature(s.hash, s.signature, s.terms.coordinator)).toBe(true);
    expect(checkRunTerms({ ...s, signature: '0'.repeat(128) }, policy()).ok).toBe(false);
  });

  it('extra checks (the privacy ledger hook) refuse with their reason, clipped', () => {
    const verdict = checkRunTerms(signed(terms()), policy(), [() => undefined, (t) => `budget spent for ${t.runId} ${'x'.repeat(2000)}`]);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.reasons).toHaveLength(1);
      expect(verdict.reason).toMatch(/^budget spent for run-1 x+… \(\d+ more characters\)$/);
      expect(verdict.reason.length).toBeLessThan(600);
    }
  });
});

/**
 * privacy.minExamplesPerMetric (default 20): a hostile coordinator's terms with train.maxExamples 1, or a site
 * report's robustness over 1 example, made every reported loss a sample of one example in disguise (past secure
 * aggregation and DP). Exact reasons, at the bound and one below.
 */
describe('checkRunTerms: privacy.minExamplesPerMetric', () => {
  const robustness = { examples: 200, adversarialExamples: 100, noiseSigmas: [0.1], corruptions: false, pgdEps: [0.05], pgdSteps: 5 };
  const withRobustness = (over: Partial<typeof robustness>) => (t: RunTerms) => (t.siteReport = { robustness: { ...robustness, ...over } });
  const maxExamples = (n: number) => (t: RunTerms) => (t.train.maxExamples = n);
  it.each([
    ['train.maxExamples at the default bound (20)', {}, maxExamples(20), null],
    ['train.maxExamples one below the default bound', {}, maxExamples(19), ["the run asks for train.maxExamples 19, fewer than the policy's minExamplesPerMetric 20 (every round's reported training loss and accuracy would cover that few examples)"]],
    ['train.maxExamples 1 (the attack)', {}, maxExamples(1), ["the run asks for train.maxExamples 1, fewer than the policy's minExamplesPerMetric 20 (every round's reported training loss and accuracy would cover that few examples)"]],
    ['train.maxExamples at a policy of 50', { privacy: { minExamplesPerMetric: 50 } }, maxExamples(50), null],
    ['train.maxExamples one below a policy of 50', { privacy: { minExamplesPerMetric: 50 } }, maxExamples(49), ["the run asks for train.maxExamples 49, fewer than the policy's minExamplesPerMetric 50 (every round's reported training loss and accuracy would cover that few examples)"]],
    ['train.maxExamples 1 under a policy of 1', { privacy: { minExamplesPerMetric: 1 } }, maxExamples(1), null],
    ['no train.maxExamples (all the site has)', {}, (t: RunTerms) => delete t.train.maxExamples, null],
    ['robustness examples at the bound', {}, withRobustness({ examples: 20, adversarialExamples: 20 }), null],
    ['robustness examples one below', {}, withRobustness({ examples: 19, adversarialExamples: 0 }), ["the run's site report evaluates robustness on 19 test examples, fewer than the policy's minExamplesPerMetric 20"]],
    ['attacked examples one below', {}, withRobustness({ examples: 200, adversarialExamples: 19 }), ["the run's site report attacks 19 test examples, fewer than the policy's minExamplesPerMetric 20"]],
    ['no attacked examples (no attack metric)', {}, withRobustness({ examples: 200, adversarialExamples: 0 }), null],
    ['robustness on one example, attacked: both reasons, and the training one, joined', {}, both(maxExamples(1), withRobustness({ examples: 1, adversarialExamples: 1 })), [
      "the run asks for train.maxExamples 1, fewer than the policy's minExamplesPerMetric 20 (every round's reported training loss and accuracy would cover that few examples)",
      "the run's site report evaluates robustness on 1 test examples, fewer than the policy's minExamplesPerMetric 20",
      "the run's site report attacks 1 test examples, fewer than the policy's minExamplesPerMetric 20",
    ]],
  ] as const)('%s', (_n, p, change, reasons) => {
    const verdict = checkRunTerms(signed(terms(change)), policy(p as SitePolicyInput));
    if (reasons === null) return expect(verdict).toMatchObject({ ok: true });
    expect(verdict).toEqual({ ok: false, reasons: [...reasons], reason: reasons.join('; ') });
  });
});
