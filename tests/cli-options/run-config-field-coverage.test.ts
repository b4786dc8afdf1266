import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunConfig } from '@fedtune/coordinator/config';

/**
 * Project rule: every option has an effect test. This walks the run-config schema's leaf fields (what a
 * --config file may set) and requires each to be listed, either with a test file that shows its effect, or
 * in `knownWithoutEffectTest`. A new field in the schema fails here until someone decides which.
 *
 * Honesty: a file is listed only where its name and content were checked to exercise that field's effect
 * (the test below checks it exists and names the field); run-config-flags.test.ts, which shows only that a
 * flag reaches the config, is not an effect test and is never listed. `knownWithoutEffectTest` is the list
 * of fields for which no effect test was verified in the audit that made this list — some may well have one
 * elsewhere: verify it, then move the field up with its file.
 */
const EFFECT_TESTS: Readonly<Record<string, string>> = {
  'stragglers.waitAfterQuorumMs': 'tests/stragglers/round-collector-quorum-wait.test.ts',
  'stragglers.maxCooldownRounds': 'tests/stragglers/unresponsive-sites.test.ts',
  strategy: 'tests/strategies/configure-train.test.ts',
  strategyOptions: 'tests/strategies/configure-train.test.ts',
  expectedMaliciousSites: 'tests/strategies/configure-train.test.ts',
  maxUpdateNorm: 'tests/validate-fit-result.test.ts',
  normBoundMultiple: 'tests/update-guard.test.ts',
  exampleWeightCap: 'tests/update-guard.test.ts',
  maxAccuracyDrop: 'tests/poisoning-defences.test.ts',
  maxAccuracyDropFromBest: 'tests/poisoning-defences.test.ts',
  'train.learningRateSchedule': 'tests/training-loop/learning-rate-schedule.test.ts',
  'train.adversarial.method': 'tests/robustness/adversarial-training-exact.test.ts',
  'train.adversarial.share': 'tests/strategies/configure-train.test.ts',
  'train.adversarial.eps': 'tests/robustness/adversarial-training-exact.test.ts',
  'train.adversarial.steps': 'tests/robustness/adversarial-training-exact.test.ts',
  'train.adversarial.stepSize': 'tests/robustness/adversarial-training-exact.test.ts',
  'train.adversarial.norm': 'tests/robustness/adversarial-training-exact.test.ts',
  'train.adversarial.epsUnits': 'tests/robustness/adversarial-training-exact.test.ts',
  // Each space trains the model it can attack (a text model's embeddings, a feature model's inputs) and refuses the other.
  'train.adversarial.space': 'tests/run-config-effects/adversarial-space-effects.test.ts',
  'train.adversarial.awp': 'tests/robustness/adversarial-weight-perturbation.test.ts',
  'train.adversarial.attackLoss': 'tests/robustness/adversarial-attack-loss.test.ts',
  'train.adversarial.warmupRounds': 'tests/strategies/configure-train.test.ts',
  'train.proximalMu': 'tests/strategies/configure-train.test.ts',
  'train.localBatchNorm': 'tests/personalization/fedbn-federation.test.ts',
  'train.updateEncoding': 'tests/update-encoding/update-encoding-federation.test.ts',
  'train.textAugmentation.copies': 'tests/text/text-augment-run-config.test.ts',
  'train.textAugmentation.rate': 'tests/text/text-augment-run-config.test.ts',
  averageRounds: 'tests/robustness/weight-averaging.test.ts',
  modelDelivery: 'tests/model-delivery/http-model-delivery-federation.test.ts',
  'robustness.attackLosses': 'tests/robustness/attack-losses.test.ts',
  'robustness.squareQueries': 'tests/robustness/square-attack.test.ts',
  'robustness.squarePInit': 'tests/robustness/square-attack.test.ts',
  'robustness.square': 'tests/robustness/square-attack.test.ts',
  'robustness.epsUnits': 'tests/robustness/eps-units.test.ts',
  'robustness.when': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.examples': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.adversarialExamples': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.seed': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.noise': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.corruptions': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.fgsm': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.pgd': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.pgdSteps': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.pgdStepSize': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.pgdL2': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.headlineEps': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.sigma': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.n0': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.n': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.alpha': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.radii': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.examples': 'tests/run-config-effects/robustness-field-effects.test.ts',
  'robustness.certify.seed': 'tests/run-config-effects/robustness-field-effects.test.ts',
  // The rows of each forward pass of the evaluation: the largest the model sees is the setting, and the numbers stay.
  'robustness.batchSize': 'tests/run-config-effects/robustness-batch-size-effects.test.ts',
  'robustness.certify.batchSize': 'tests/run-config-effects/robustness-batch-size-effects.test.ts',
  // Membership and round timing: the real coordinator and sites over the in-memory network, each field at two values.
  runId: 'tests/run-config-effects/membership-field-effects.test.ts',
  minSites: 'tests/run-config-effects/membership-field-effects.test.ts',
  joinTimeoutMs: 'tests/run-config-effects/membership-field-effects.test.ts',
  roundTimeoutMs: 'tests/run-config-effects/membership-field-effects.test.ts',
  maxRoundAttempts: 'tests/run-config-effects/membership-field-effects.test.ts',
  rejoinGraceMs: 'tests/run-config-effects/membership-field-effects.test.ts',
  'calibration.source': 'tests/robustness/calibration-in-run.test.ts',
  'dp.noiseSeed': 'tests/privacy/dp-noise-seed.test.ts',
  'dp.noiseMultiplier': 'tests/run-config-effects/dp-field-effects.test.ts',
  'dp.clip': 'tests/run-config-effects/dp-field-effects.test.ts',
  'dp.adaptive.targetQuantile': 'tests/run-config-effects/dp-field-effects.test.ts',
  'dp.adaptive.learningRate': 'tests/run-config-effects/dp-field-effects.test.ts',
  'dp.noise': 'tests/run-config-effects/dp-field-effects.test.ts',
  'dp.delta': 'tests/run-config-effects/dp-field-effects.test.ts',
  // What each site clips its delta to, how many sites it deals key shares to, where its coordinates are clamped.
  'secureAggregation.clip': 'tests/run-config-effects/secure-aggregation-field-effects.test.ts',
  'secureAggregation.neighbours': 'tests/run-config-effects/secure-aggregation-field-effects.test.ts',
  'secureAggregation.range': 'tests/run-config-effects/secure-aggregation-field-effects.test.ts',
  'secureAggregation.phaseTimeoutMs': 'tests/secure-aggregation.test.ts',
  // One dropout after masking: the default threshold completes the round with the 3 survivors; threshold 4 aborts it.
  'secureAggregation.threshold': 'tests/secure-aggregation.test.ts',
  // Quorum 0.5 aggregates the 2 honest sites of 4; quorum 1 with one bad site of 2 aborts the run.
  quorum: 'tests/round-engine-validation.test.ts',
  classNames: 'tests/site-data/class-names-federation.test.ts',
  rounds: 'tests/run-config-effects/round-field-effects.test.ts',
  seed: 'tests/run-config-effects/round-field-effects.test.ts',
  fraction: 'tests/run-config-effects/round-field-effects.test.ts',
  sitesKeepModel: 'tests/run-config-effects/round-field-effects.test.ts',
  federatedEvaluation: 'tests/run-config-effects/round-field-effects.test.ts',
  evaluationFraction: 'tests/run-config-effects/round-field-effects.test.ts',
  maxEvaluationSites: 'tests/run-config-effects/round-field-effects.test.ts',
  maxUpdateBytes: 'tests/run-config-effects/round-field-effects.test.ts',
  maxExamplesPerSite: 'tests/run-config-effects/round-field-effects.test.ts',
  'train.epochs': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.batchSize': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.learningRate': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.optimizer': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.trainable': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.maxExamples': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.weightDecay': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.dropout': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.earlyStopping.patience': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.earlyStopping.minDelta': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.augmentation.share': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.augmentation.corruptions': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.augmentation.noiseSigmas': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.adversarial.beta': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.dpSgd.clip': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.dpSgd.noiseMultiplier': 'tests/run-config-effects/train-field-effects.test.ts',
  'train.dpSgd.delta': 'tests/run-config-effects/train-field-effects.test.ts',
  // Personalisation and the per-site robustness report act on the site: each file below shows the setting
  // changing what the site computes (weights, the candidate kept, the scores, the summary); that the run
  // config's value reaches the site's instruction is site-report-options.test.ts's 'reaches the instruction' table.
  'personalization.mode': 'tests/personalization/personalize-model.test.ts',
  'personalization.epochs': 'tests/personalization/personalize-model.test.ts',
  'personalization.lambda': 'tests/personalization/personalize-model.test.ts',
  'personalization.learningRate': 'tests/personalization/personalize-model.test.ts',
  'personalization.validate': 'tests/personalization/personalize-model.test.ts',
  'personalization.guard': 'tests/personalization/auto-guard.test.ts',
  'personalization.guardEps': 'tests/personalization/auto-guard.test.ts',
  'personalization.selection': 'tests/personalization/auto-kfold.test.ts',
  'personalization.folds': 'tests/personalization/auto-kfold.test.ts',
  'personalization.selectionMargin': 'tests/personalization/auto-kfold.test.ts',
  'personalization.localOnly': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.when': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.examples': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.adversarialExamples': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.noiseSigmas': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.corruptions': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.pgdEps': 'tests/personalization/site-report-options.test.ts',
  'siteRobustness.pgdSteps': 'tests/personalization/site-report-options.test.ts',
};

/** Fields with no verified effect test (see above): each needs one, or a decision that it needs none. Empty: every field has one. */
const knownWithoutEffectTest: readonly string[] = [];

interface ZodLike {
  def?: { type?: string; innerType?: ZodLike; in?: ZodLike; shape?: Record<string, ZodLike> };
}

/** The dotted paths of the schema's leaves: objects are walked through optional, default and prefault wrappers. */
function leafFields(schema: ZodLike, prefix: readonly string[] = []): string[] {
  let s = schema;
  while (s.def && ['optional', 'default', 'prefault', 'nullable'].includes(s.def.type!)) s = s.def.innerType!;
  if (s.def?.type === 'object') return Object.entries(s.def.shape!).flatMap(([key, inner]) => leafFields(inner, [...prefix, key]));
  return [prefix.join('.')];
}

const ROOT = join(import.meta.dirname, '..', '..');
const fields = leafFields(RunConfig as unknown as ZodLike);

describe('every run-config field is accounted for: an effect test, or listed as known without one', () => {
  it('the walk finds the schema\'s nested fields', () => {
    expect(fields).toContain('train.adversarial.eps');
    expect(fields).toContain('stragglers.waitAfterQuorumMs');
    expect(fields.length).toBeGreaterThan(100);
  });
  it.each(fields)('%s', (field) => {
    const listed = Object.hasOwn(EFFECT_TESTS, field);
    const known = knownWithoutEffectTest.includes(field);
    expect(listed || known, `${field}: add its effect test file to EFFECT_TESTS, or (with a reason) to knownWithoutEffectTest`).toBe(true);
    expect(listed && known, `${field} is in both lists`).toBe(false);
    if (listed) {
      const path = join(ROOT, EFFECT_TESTS[field]);
      expect(existsSync(path), EFFECT_TESTS[field]).toBe(true);
      expect(readFileSync(path, 'utf8'), `${EFFECT_TESTS[field]} names ${field.split('.').at(-1)}`).toContain(field.split('.').at(-1));
    }
  });
  it('the lists name only fields the schema has (a removed field leaves no stale entry)', () => {
    for (const field of [...Object.keys(EFFECT_TESTS), ...knownWithoutEffectTest]) expect(fields, field).toContain(field);
  });
});
