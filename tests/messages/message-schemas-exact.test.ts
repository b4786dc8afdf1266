import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AdversarialTraining,
  Bytes,
  EvaluateInstruction,
  EvaluateResult,
  FitInstruction,
  FitResultMetrics,
  Heartbeat,
  Hello,
  LearningRateSchedule,
  MAX_SUMMARY_CLASSES,
  MAX_SUMMARY_FEATURE_NAMES,
  ModelTopology,
  MAX_CALIBRATION_SUM,
  MAX_FEDERATION_SITES,
  Rejection,
  RunComplete,
  SecureAggAdvertise,
  SecureAggInstruction,
  SecureAggKeys,
  SecureAggMasked,
  SecureAggShareKeys,
  SecureAggShares,
  SecureAggUnmask,
  SecureAggUnmaskResponse,
  SiteDataSummary,
  SiteFailure,
  SiteLedgerTotals,
  SitePrivacy,
  TrainConfig,
  WEIGHTS_LIMITS,
  Welcome,
} from '@fedtune/shared';
import { withValue } from './with-value.ts';

/**
 * Every bound, enum, pattern and cross-field rule of the wire protocol's schemas (shared/src/messages/schemas.ts)
 * at its edge and just past it, on one valid message per schema: what a peer may send is exactly what the
 * schema says — a bound that moved, a pattern that lost an anchor or a rule that stopped applying fails here.
 * (`npm run mutation -- message-schemas` runs these against mutants of the schemas.)
 */

/** The issues of a rejected parse as "path: message" lines ([] when accepted). */
function issuesOf(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const train = { epochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam', trainable: 'all', seed: 0 };
const adversarial = { method: 'pgd', share: 1, eps: 0.1 };
const secagg = {
  attempt: 1,
  sites: ['a', 'b', 'c'],
  threshold: 2,
  vectorLength: 10,
  fixedPoint: { range: 1, maxTotalWeight: 1, scale: 1 },
  clip: 1,
  weighting: 'examples',
  weightDenominator: 1,
};
const privacy = { epsilon: 1, delta: 1e-5, steps: 10, samplingRate: 0.1, noiseMultiplier: 1 };
const metrics = { loss: 0.5, accuracy: 0.5, privacy, ledger: { runEpsilon: 1, totalEpsilon: null } };
const evaluateResult = { runId: 'r', round: 1, siteId: 'site-1', numExamples: 10, metrics: { loss: 0.5, accuracy: 0.5 }, calibration: { betas: [1, 2], count: 10, stats: [{ nll: 1, grad: -1, hess: 1 }, { nll: 2, grad: 1, hess: 0 }] } };
const key = new Uint8Array(32);
const hello = { protocol: 1, siteId: 'site-1', capabilities: { backend: 'wasm', runtime: 'node', numExamples: 10 } };

// [what, schema, valid message, path, accepted values, rejected values]
type Row = [string, z.ZodType, unknown, Array<string | number>, unknown[], unknown[]];
const rows: Row[] = [
  ['hello: alternatives', Hello, hello, ['capabilities', 'alternatives'], [0, 3, 64, undefined], [-1, 65, 1.5]],
  ['hello: site id characters', Hello, hello, ['siteId'], ['a', 'A-z_0.9', 'x'.repeat(128)], ['', 'x'.repeat(129), 'bad id', 'site/1', 'ok\n', ' ok']],
  ['site failure: error code', SiteFailure, { runId: 'r', round: 1, siteId: 's', code: 'x', reason: '' }, ['code'], ['a', 'bad_data', 'e2e_1', 'a'.repeat(64)], ['', 'Bad', '1abc', 'bad data', 'bad_data\n', 'ok-code', 'a'.repeat(65)]],
  ['rejection: error code', Rejection, { code: 'x', reason: '' }, ['code'], ['not_joined'], ['not joined', 'NOT_JOINED', '_x']],
  // Adversarial training
  ['adversarial: method', AdversarialTraining, adversarial, ['method'], ['fgsm', 'pgd', 'trades', undefined], ['', 'PGD', 'cw']],
  ['adversarial: share', AdversarialTraining, adversarial, ['share'], [0, 0.5, 1], [-0.01, 1.01]],
  ['adversarial: eps (L∞ in absolute units)', AdversarialTraining, adversarial, ['eps'], [0, 0.5, 1], [-0.01, 1.01, 100]],
  ['adversarial: steps', AdversarialTraining, adversarial, ['steps'], [1, 7, 100, undefined], [0, 101, 2.5]],
  ['adversarial: step size', AdversarialTraining, adversarial, ['stepSize'], [0.001, 1, 100, undefined], [0, -1, 100.5]],
  ['adversarial: norm', AdversarialTraining, adversarial, ['norm'], ['linf', 'l2', undefined], ['l1', '']],
  ['adversarial: ε units', AdversarialTraining, adversarial, ['epsUnits'], ['absolute', 'feature-std', 'data-std', undefined], ['std', '']],
  ['adversarial: warm-up rounds', AdversarialTraining, adversarial, ['warmupRounds'], [1, 10, 1000, undefined], [0, 1001, 1.5]],
  ['adversarial: space', AdversarialTraining, adversarial, ['space'], ['input', undefined], ['pixels', '']],
  ['adversarial: AWP γ', AdversarialTraining, adversarial, ['awp'], [0, 0.005, 1, undefined], [-0.1, 1.1]],
  ['adversarial: attack loss', AdversarialTraining, adversarial, ['attackLoss'], ['ce', 'margin', 'mixed', undefined], ['kl', '']],
  ['adversarial (TRADES): β', AdversarialTraining, { ...adversarial, method: 'trades' }, ['beta'], [0, 6, 100, undefined], [-1, 101]],
  ['adversarial (L2): eps', AdversarialTraining, { ...adversarial, norm: 'l2' }, ['eps'], [0, 1.5, 100], [100.5]],
  ['adversarial (feature-std): eps', AdversarialTraining, { ...adversarial, epsUnits: 'feature-std' }, ['eps'], [0.5, 2, 100], [101]],
  // Learning-rate schedules
  ['schedule: cosine final factor', LearningRateSchedule, { kind: 'cosine' }, ['finalFactor'], [0.001, 0.1, 1, undefined], [0, -0.1, 1.5]],
  ['schedule: step every', LearningRateSchedule, { kind: 'step', every: 5 }, ['every'], [1, 50, 1000], [0, 1001, 2.5, undefined]],
  ['schedule: step factor', LearningRateSchedule, { kind: 'step', every: 5 }, ['factor'], [0.001, 0.5, 1, undefined], [0, 1.5]],
  ['schedule: kind', LearningRateSchedule, { kind: 'step', every: 5 }, ['kind'], ['step', 'cosine'], ['linear', '']],
  // Training settings
  ['train: epochs', TrainConfig, train, ['epochs'], [1, 5, 1000], [0, 1001, 1.5]],
  ['train: batch size', TrainConfig, train, ['batchSize'], [1, 65536], [0, 65537]],
  ['train: learning rate', TrainConfig, train, ['learningRate'], [1e-6, 10], [0, 10.5]],
  ['train: optimizer', TrainConfig, train, ['optimizer'], ['sgd', 'momentum', 'adam'], ['rmsprop']],
  ['train: trainable', TrainConfig, train, ['trainable'], ['all', 'head', 1, 3], [0, 'body', 1.5]],
  ['train: seed', TrainConfig, train, ['seed'], [0, 2 ** 31], [-1, 0.5]],
  ['train: max examples', TrainConfig, train, ['maxExamples'], [1, 100, undefined], [0, 1.5]],
  ['train: augmentation share', TrainConfig, { ...train, augmentation: { share: 0.5 } }, ['augmentation', 'share'], [0, 0.5, 1], [-0.1, 1.1]],
  ['train: augmentation corruptions', TrainConfig, { ...train, augmentation: { share: 0.5 } }, ['augmentation', 'corruptions'], [[], ['fog'], ['x'.repeat(64)], Array(64).fill('fog')], [['x'.repeat(65)], Array(65).fill('fog')]],
  ['train: augmentation noise σ', TrainConfig, { ...train, augmentation: { share: 0.5 } }, ['augmentation', 'noiseSigmas'], [[], [0, 0.5, 1], Array(16).fill(0.1)], [[-0.1], [1.1], Array(17).fill(0.1)]],
  ['train: proximal μ', TrainConfig, train, ['proximalMu'], [0, 0.01, 100, undefined], [-0.01, 100.5]],
  ['train: weight decay', TrainConfig, train, ['weightDecay'], [0, 0.5, 1, undefined], [-0.1, 1.1]],
  ['train: dropout', TrainConfig, train, ['dropout'], [0, 0.5, 0.95, undefined], [-0.1, 0.96]],
  ['train: early-stopping patience', TrainConfig, { ...train, earlyStopping: { patience: 3 } }, ['earlyStopping', 'patience'], [1, 3, 1000], [0, 1001, 1.5]],
  ['train: early-stopping min delta', TrainConfig, { ...train, earlyStopping: { patience: 3 } }, ['earlyStopping', 'minDelta'], [0, 0.01, undefined], [-0.01]],
  ['train: DP-SGD clip', TrainConfig, { ...train, dpSgd: { clip: 1, noiseMultiplier: 1 } }, ['dpSgd', 'clip'], [0.1, 10], [0, -1]],
  ['train: DP-SGD noise multiplier', TrainConfig, { ...train, dpSgd: { clip: 1, noiseMultiplier: 1 } }, ['dpSgd', 'noiseMultiplier'], [0, 1.1, 1000], [-0.1, 1001]],
  ['train: DP-SGD δ', TrainConfig, { ...train, dpSgd: { clip: 1, noiseMultiplier: 1 } }, ['dpSgd', 'delta'], [1e-5, 0.5, undefined], [0, 1]],
  ['train: update encoding', TrainConfig, train, ['updateEncoding'], ['float32', 'fp16', 'int8', undefined], ['int4']],
  ['train: text augmentation copies', TrainConfig, { ...train, textAugmentation: { copies: 2, rate: 0.1 } }, ['textAugmentation', 'copies'], [1, 2, 16], [0, 17, 1.5]],
  ['train: text augmentation rate', TrainConfig, { ...train, textAugmentation: { copies: 2, rate: 0.1 } }, ['textAugmentation', 'rate'], [0.01, 0.5, 1], [0, 1.1]],
  // Secure aggregation instructions
  ['secure aggregation: attempt', SecureAggInstruction, secagg, ['attempt'], [1, Number.MAX_SAFE_INTEGER], [0, 1.5]],
  ['secure aggregation: sites', SecureAggInstruction, secagg, ['sites'], [['a', 'b'], ['a', 'b', 'c', 'd']], [['a'], [], ['a', 'b', 'a'], ['a', 'bad id']]],
  ['secure aggregation: threshold', SecureAggInstruction, secagg, ['threshold'], [1, 2, 3], [0, 4, 1.5]],
  ['secure aggregation: neighbours', SecureAggInstruction, secagg, ['neighbours'], [2, 3, 100, MAX_FEDERATION_SITES, undefined], [1, MAX_FEDERATION_SITES + 1]],
  ['secure aggregation: vector length', SecureAggInstruction, secagg, ['vectorLength'], [1, 2 ** 27], [0, 2 ** 27 + 1]],
  ['secure aggregation: weighting', SecureAggInstruction, secagg, ['weighting'], ['examples', 'uniform'], ['equal']],
  ['secure aggregation: distributed noise multiplier', SecureAggInstruction, { ...secagg, distributedNoise: { mechanism: 'discrete-gaussian', noiseMultiplier: 1, variance: 1 } }, ['distributedNoise', 'noiseMultiplier'], [0, 1, 500, 1000], [-1, 1001]],
  ['secure aggregation: distributed noise variance', SecureAggInstruction, { ...secagg, distributedNoise: { mechanism: 'discrete-gaussian', noiseMultiplier: 1, variance: 1 } }, ['distributedNoise', 'variance'], [0, 1, 1e6, 2 ** 62], [-1, 2 ** 63]],
  ['secure aggregation: distributed noise mechanism', SecureAggInstruction, { ...secagg, distributedNoise: { mechanism: 'discrete-gaussian', noiseMultiplier: 1, variance: 1 } }, ['distributedNoise', 'mechanism'], ['discrete-gaussian'], ['gaussian', '']],
  // What sites report
  ['DP-SGD spend: ε', SitePrivacy, privacy, ['epsilon'], [0, 1, 1e9], [-1, Infinity]],
  ['DP-SGD spend: δ', SitePrivacy, privacy, ['delta'], [1e-9, 0.5], [0, 1]],
  ['DP-SGD spend: steps', SitePrivacy, privacy, ['steps'], [0, 5, Number.MAX_SAFE_INTEGER], [-1, 1.5]],
  ['DP-SGD spend: sampling rate', SitePrivacy, privacy, ['samplingRate'], [0, 0.5, 1], [-0.1, 1.1]],
  ['DP-SGD spend: noise multiplier', SitePrivacy, privacy, ['noiseMultiplier'], [0, 1.5, 1000], [-0.1, 1001]],
  ['ledger totals: run ε', SiteLedgerTotals, { runEpsilon: 1, totalEpsilon: 2 }, ['runEpsilon'], [0, 5, 1e12, null], [-1, 1e12 * 1.01, Infinity, undefined]],
  ['ledger totals: total ε', SiteLedgerTotals, { runEpsilon: 1, totalEpsilon: 2 }, ['totalEpsilon'], [0, 5, 1e12, null], [-1, 2e12]],
  ['ledger totals: no other field', SiteLedgerTotals, { runEpsilon: 1, totalEpsilon: 2 }, ['examples'], [undefined], [[1, 2, 3], 'x']],
  ['fit metrics: privacy', FitResultMetrics, metrics, ['privacy', 'epsilon'], [0, 3], [-3]],
  ['fit metrics: ledger', FitResultMetrics, metrics, ['ledger', 'runEpsilon'], [0, null], [-1]],
  ['fit metrics: ledger fields', FitResultMetrics, metrics, ['ledger', 'extra'], [undefined], [1]],
  // Secure-aggregation phases
  ['advertise: encryption key', SecureAggAdvertise, { runId: 'r', round: 1, attempt: 1, siteId: 's', encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 }, ['encryptionPublicKey'], [new Uint8Array(32), new Uint8Array(32).buffer], [new Uint8Array(31), new Uint8Array(33), 'key']],
  ['advertise: masking key', SecureAggAdvertise, { runId: 'r', round: 1, attempt: 1, siteId: 's', encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 }, ['maskingPublicKey'], [new Uint8Array(32)], [new Uint8Array(0)]],
  ['advertise: self-mask commitment', SecureAggAdvertise, { runId: 'r', round: 1, attempt: 1, siteId: 's', encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 }, ['selfMaskCommitment'], [new Uint8Array(32), new Uint8Array(32).fill(255)], [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0), 'commitment', undefined]],
  ['advertise: attempt', SecureAggAdvertise, { runId: 'r', round: 1, attempt: 1, siteId: 's', encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 }, ['attempt'], [1, 7], [0, -1, 1.5]],
  ['share keys: nonce', SecureAggShareKeys, { runId: 'r', round: 1, attempt: 1, siteId: 's', shares: [{ from: 'a', to: 'b', nonce: new Uint8Array(12), ciphertext: new Uint8Array(10) }] }, ['shares', 0, 'nonce'], [new Uint8Array(12)], [new Uint8Array(11), new Uint8Array(13)]],
  ['share keys: ciphertext', SecureAggShareKeys, { runId: 'r', round: 1, attempt: 1, siteId: 's', shares: [{ from: 'a', to: 'b', nonce: new Uint8Array(12), ciphertext: new Uint8Array(10) }] }, ['shares', 0, 'ciphertext'], [new Uint8Array(0), new Uint8Array(1024)], [new Uint8Array(1025)]],
  ['share keys: addressee', SecureAggShareKeys, { runId: 'r', round: 1, attempt: 1, siteId: 's', shares: [{ from: 'a', to: 'b', nonce: new Uint8Array(12), ciphertext: new Uint8Array(10) }] }, ['shares', 0, 'to'], ['b'], ['', 'b c']],
  ['masked input', SecureAggMasked, { runId: 'r', round: 1, attempt: 1, siteId: 's', masked: new Uint8Array(8) }, ['masked'], [new Uint8Array(0), new Uint8Array(4), new Uint8Array(400)], [new Uint8Array(1), new Uint8Array(5), new Uint8Array(402), [1, 2, 3, 4]]],
  ['unmask response: share', SecureAggUnmaskResponse, { runId: 'r', round: 1, attempt: 1, siteId: 's', selfMaskShares: [{ owner: 'a', share: new Uint8Array(4) }], maskingKeyShares: [] }, ['selfMaskShares', 0, 'share'], [new Uint8Array(0), new Uint8Array(128)], [new Uint8Array(129)]],
  ['unmask response: complaints', SecureAggUnmaskResponse, { runId: 'r', round: 1, attempt: 1, siteId: 's', selfMaskShares: [], maskingKeyShares: [] }, ['unusable'], [undefined, [], ['a'], ['a', 'b'], Array(MAX_FEDERATION_SITES).fill('a')], [['a b'], [''], [1], 'a', Array(MAX_FEDERATION_SITES + 1).fill('a')]],
  // Calibration queries and answers
  ['evaluate: inverse temperatures', EvaluateInstruction, { runId: 'r', round: 1, modelVersion: 0, calibration: { betas: [1] } }, ['calibration', 'betas'], [[0.01], [100], [0.01, 1, 100], Array(32).fill(1)], [[], [0.009], [101], Array(33).fill(1)]],
  ['evaluate result: calibration betas', EvaluateResult, evaluateResult, ['calibration', 'betas'], [[1, 2], [0.01, 100]], [[1], [1, 2, 3], [0.005, 1], [1, 200]]],
  ['evaluate result: NLL sum', EvaluateResult, evaluateResult, ['calibration', 'stats', 0, 'nll'], [0, 5, MAX_CALIBRATION_SUM], [-1, MAX_CALIBRATION_SUM * 2, Infinity]],
  ['evaluate result: gradient sum', EvaluateResult, evaluateResult, ['calibration', 'stats', 0, 'grad'], [-MAX_CALIBRATION_SUM, -5, 0, 5, MAX_CALIBRATION_SUM], [-MAX_CALIBRATION_SUM * 2, MAX_CALIBRATION_SUM * 2, Number.NaN]],
  ['evaluate result: curvature sum', EvaluateResult, evaluateResult, ['calibration', 'stats', 0, 'hess'], [0, 5, MAX_CALIBRATION_SUM], [-1, MAX_CALIBRATION_SUM * 2]],
  ['evaluate result: calibration count', EvaluateResult, evaluateResult, ['calibration', 'count'], [1, 10], [-1, 1.5]],
];

const topology = { runId: 'r', modelVersion: 0, topology: { class_name: 'Sequential' }, manifest: [{ name: 'dense/kernel', shape: [2, 3], dtype: 'float32' }] };
const sealed = { from: 'a', to: 'b', nonce: new Uint8Array(12), ciphertext: new Uint8Array(4) };
const summary = { runId: 'r', siteId: 's', examples: 10, duplicatesDropped: 0, missingImputed: 0, constantFeatures: 0, labelCounts: [5, 5] };
rows.push(
  ['hello: runtime', Hello, hello, ['capabilities', 'runtime'], ['node', 'browser'], ['deno', '']],
  ['hello: backend', Hello, hello, ['capabilities', 'backend'], ['w', 'x'.repeat(64)], ['', 'x'.repeat(65)]],
  ['hello: token', Hello, hello, ['token'], ['', 't', 'x'.repeat(512), undefined], ['x'.repeat(513), 5]],
  ['hello: protocol', Hello, hello, ['protocol'], [1], [0, 2, '1']],
  ['welcome: site id', Welcome, { protocol: 1, runId: 'r', siteId: 's' }, ['siteId'], ['s-1'], ['s 1', '']],
  ['welcome: run id', Welcome, { protocol: 1, runId: 'r', siteId: 's' }, ['runId'], ['r', 'x'.repeat(128)], ['', 'x'.repeat(129)]],
  ['model: version', ModelTopology, topology, ['modelVersion'], [0, 7], [-1, 0.5]],
  ['model: tensor name', ModelTopology, topology, ['manifest', 0, 'name'], ['', 'w', 'x'.repeat(WEIGHTS_LIMITS.maxNameLength)], ['x'.repeat(WEIGHTS_LIMITS.maxNameLength + 1)]],
  ['model: tensor shape', ModelTopology, topology, ['manifest', 0, 'shape'], [[], [0], [1, 2], [WEIGHTS_LIMITS.maxDim], Array(WEIGHTS_LIMITS.maxRank).fill(1)], [[-1], [1.5], [WEIGHTS_LIMITS.maxDim + 1], Array(WEIGHTS_LIMITS.maxRank + 1).fill(1)]],
  ['model: tensor dtype', ModelTopology, topology, ['manifest', 0, 'dtype'], ['float32'], ['int32', '']],
  ['model: manifest', ModelTopology, topology, ['manifest'], [[], Array(3).fill(topology.manifest[0])], [Array(WEIGHTS_LIMITS.maxTensors + 1).fill(topology.manifest[0])]],
  ['secure aggregation keys', SecureAggKeys, { runId: 'r', round: 1, attempt: 1, keys: [{ siteId: 'a', encryptionPublicKey: key, maskingPublicKey: key }] }, ['keys', 0, 'siteId'], ['a'], ['a b']],
  ['secure aggregation keys: list', SecureAggKeys, { runId: 'r', round: 1, attempt: 1, keys: [] }, ['keys'], [[], [{ siteId: 'a', encryptionPublicKey: key, maskingPublicKey: key }]], [[{ siteId: 'a', encryptionPublicKey: new Uint8Array(1), maskingPublicKey: key }], [{ siteId: 'a' }]]],
  ['secure aggregation shares: participants', SecureAggShares, { runId: 'r', round: 1, attempt: 1, participants: ['a', 'b'], shares: [sealed] }, ['participants'], [[], ['a', 'b']], [['a', ''], Array(MAX_FEDERATION_SITES + 1).fill('a')]],
  ['secure aggregation shares: shares', SecureAggShares, { runId: 'r', round: 1, attempt: 1, participants: ['a', 'b'], shares: [sealed] }, ['shares'], [[], [sealed, sealed]], [[{ ...sealed, nonce: new Uint8Array(1) }]]],
  ['secure aggregation unmask: survivors', SecureAggUnmask, { runId: 'r', round: 1, attempt: 1, survivors: ['a'] }, ['survivors'], [[], ['a', 'b']], [['a b'], Array(MAX_FEDERATION_SITES + 1).fill('a')]],
  ['heartbeat: status', Heartbeat, { siteId: 's', status: 'idle' }, ['status'], ['idle', 'training', 'evaluating'], ['busy', '']],
  ['run complete: rounds', RunComplete, { runId: 'r', rounds: 3 }, ['rounds'], [0, 3], [-1, 1.5]],
  ['run complete: final metrics', RunComplete, { runId: 'r', rounds: 3, final: { accuracy: 0.5, loss: 1 } }, ['final', 'loss'], [0, 2.5], [Infinity, 'x', undefined]],
  ['data summary: label counts', SiteDataSummary, summary, ['labelCounts'], [[], [1, 2, 3], Array(MAX_SUMMARY_CLASSES).fill(1)], [[-1], [1.5], Array(MAX_SUMMARY_CLASSES + 1).fill(1)]],
  ['data summary: feature names', SiteDataSummary, summary, ['featureNames'], [undefined, [], ['age'], ['x'.repeat(128)], Array(MAX_SUMMARY_FEATURE_NAMES).fill('f')], [[''], ['x'.repeat(129)], Array(MAX_SUMMARY_FEATURE_NAMES + 1).fill('f')]],
  ['data summary: examples', SiteDataSummary, summary, ['examples'], [0, 10], [-1, 1.5]],
);

describe('each field of each message at its bounds', () => {
  it.each(rows)('%s', (_, schema, base, path, accepted, rejected) => {
    expect(issuesOf(schema, base)).toEqual([]);
    for (const value of accepted) expect(issuesOf(schema, withValue(base, path, value)), `${JSON.stringify(value)} is accepted`).toEqual([]);
    for (const value of rejected) expect(issuesOf(schema, withValue(base, path, value)).length, `${String(value)} is rejected`).toBeGreaterThan(0);
  });
});

describe('defaults and what a parse keeps', () => {
  it('adversarial training defaults to PGD on every example', () => {
    expect(AdversarialTraining.parse({ eps: 0.1 })).toEqual({ method: 'pgd', share: 1, eps: 0.1 });
  });

  it('schedules default their factors', () => {
    expect(LearningRateSchedule.parse({ kind: 'cosine' })).toEqual({ kind: 'cosine', finalFactor: 0.1 });
    expect(LearningRateSchedule.parse({ kind: 'step', every: 3 })).toEqual({ kind: 'step', every: 3, factor: 0.5 });
  });

  it('a fit instruction keeps every training setting it carries and drops unknown ones', () => {
    const config = {
      ...train,
      maxExamples: 100,
      learningRateSchedule: { kind: 'step', every: 2, factor: 0.5 },
      augmentation: { share: 0.5, corruptions: ['fog'], noiseSigmas: [0.1] },
      adversarial: { method: 'trades', share: 0.5, eps: 0.1, steps: 5, stepSize: 0.02, norm: 'linf', beta: 3, epsUnits: 'data-std', warmupRounds: 4, space: 'input', awp: 0.01 },
      proximalMu: 0.1,
      weightDecay: 0.001,
      dropout: 0.2,
      earlyStopping: { patience: 2, minDelta: 0.01 },
      dpSgd: { clip: 1, noiseMultiplier: 1.1, delta: 1e-5 },
      localBatchNorm: true,
      updateEncoding: 'int8',
      textAugmentation: { copies: 2, rate: 0.1 },
    };
    const parsed = FitInstruction.parse({ runId: 'r', round: 1, modelVersion: 0, config: { ...config, secretSamples: [[1, 2, 3]] }, secureAggregation: secagg });
    expect(parsed.config).toEqual(config);
    expect(parsed.secureAggregation).toEqual(secagg);
  });

  it.each<[string, z.ZodType, unknown]>([
    ['a hello', Hello, { ...hello, token: 't', capabilities: { ...hello.capabilities, alternatives: 2 } }],
    ['a welcome', Welcome, { protocol: 1, runId: 'r', siteId: 's' }],
    ['a model', ModelTopology, topology],
    ['secure aggregation keys', SecureAggKeys, { runId: 'r', round: 1, attempt: 1, keys: [{ siteId: 'a', encryptionPublicKey: key, maskingPublicKey: key }] }],
    ['secure aggregation shares', SecureAggShares, { runId: 'r', round: 1, attempt: 1, participants: ['a', 'b'], shares: [sealed] }],
    ['secure aggregation survivors', SecureAggUnmask, { runId: 'r', round: 1, attempt: 1, survivors: ['a'] }],
    ['a heartbeat', Heartbeat, { siteId: 's', status: 'training' }],
    ['a completion', RunComplete, { runId: 'r', rounds: 3, final: { accuracy: 0.5, loss: 1 }, aborted: 'stopped by the operator' }],
    ['a data summary', SiteDataSummary, { ...summary, featureNames: ['age', 'income'] }],
    ['an evaluation with calibration', EvaluateResult, evaluateResult],
    ['an evaluation query', EvaluateInstruction, { runId: 'r', round: 1, modelVersion: 2, dropModel: true, calibration: { betas: [0.5, 2] } }],
  ])('%s parses to itself', (_, schema, message) => {
    expect(schema.parse(message)).toEqual(message);
  });

  it('a completion\'s reason is kept up to 2000 characters and clipped beyond, to a reason that parses to itself', () => {
    for (const length of [0, 1999, 2000]) expect(RunComplete.parse({ runId: 'r', rounds: 1, aborted: 'x'.repeat(length) }).aborted).toBe('x'.repeat(length));
    const clipped = RunComplete.parse({ runId: 'r', rounds: 1, aborted: 'x'.repeat(2001) }).aborted!;
    expect(clipped.length).toBeLessThanOrEqual(2000);
    expect(clipped.length).toBeGreaterThan(1900);
    expect(clipped.startsWith('x'.repeat(1900))).toBe(true);
    expect(RunComplete.parse({ runId: 'r', rounds: 1, aborted: clipped }).aborted).toBe(clipped);
    expect(RunComplete.parse({ runId: 'r', rounds: 1, aborted: 'y'.repeat(1_000_000) }).aborted!.length).toBeLessThanOrEqual(2000);
  });

  it('site metrics keep their privacy spend and ledger totals', () => {
    expect(FitResultMetrics.parse(metrics)).toEqual(metrics);
  });

  it('binary fields become a Uint8Array over the same bytes', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(Bytes.parse(bytes)).toBe(bytes);
    const fromBuffer = Bytes.parse(bytes.buffer);
    expect(fromBuffer).toBeInstanceOf(Uint8Array);
    expect([...fromBuffer]).toEqual([1, 2, 3]);
  });
});

describe('the messages a peer reads when its payload is refused', () => {
  it.each<[string, z.ZodType, unknown, string]>([
    ['binary data', Bytes, 'abc', ': expected binary data'],
    ['a site id', Hello, withValue(hello, ['siteId'], 'bad id'), 'siteId: site id may use letters, digits, ".", "_" and "-"'],
    ['an error code', SiteFailure, { runId: 'r', round: 1, siteId: 's', code: 'Bad', reason: '' }, 'code: code may use lowercase letters, digits and "_"'],
    ['a self-mask commitment', SecureAggAdvertise, { runId: 'r', round: 1, attempt: 1, siteId: 's', encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: new Uint8Array(31), numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 }, 'selfMaskCommitment: expected a 32-byte commitment'],
    ['a public key', SecureAggAdvertise, { runId: 'r', round: 1, attempt: 1, siteId: 's', encryptionPublicKey: new Uint8Array(3), maskingPublicKey: key, selfMaskCommitment: key, numExamples: 1, metrics: { loss: 0, accuracy: 0 }, durationMs: 0 }, 'encryptionPublicKey: expected a 32-byte public key'],
    ['a nonce', SecureAggShareKeys, { runId: 'r', round: 1, attempt: 1, siteId: 's', shares: [{ from: 'a', to: 'b', nonce: new Uint8Array(3), ciphertext: new Uint8Array(1) }] }, 'shares.0.nonce: expected a 12-byte nonce'],
    ['a ciphertext', SecureAggShareKeys, { runId: 'r', round: 1, attempt: 1, siteId: 's', shares: [{ from: 'a', to: 'b', nonce: new Uint8Array(12), ciphertext: new Uint8Array(2000) }] }, 'shares.0.ciphertext: ciphertext too large'],
    ['a revealed share', SecureAggUnmaskResponse, { runId: 'r', round: 1, attempt: 1, siteId: 's', selfMaskShares: [], maskingKeyShares: [{ owner: 'a', share: new Uint8Array(200) }] }, 'maskingKeyShares.0.share: share too large'],
    ['a masked input', SecureAggMasked, { runId: 'r', round: 1, attempt: 1, siteId: 's', masked: new Uint8Array(3) }, 'masked: masked input must be whole uint32 values'],
    ['repeated invited sites', SecureAggInstruction, { ...secagg, sites: ['a', 'a', 'b'] }, 'sites: the invited sites must be distinct'],
    ['a threshold above the sites', SecureAggInstruction, { ...secagg, threshold: 4 }, 'threshold: the threshold cannot exceed the number of invited sites'],
    ['calibration sums per temperature', EvaluateResult, withValue(evaluateResult, ['calibration', 'betas'], [1]), 'calibration: one calibration sum per inverse temperature'],
    ['calibration sums over no examples', EvaluateResult, withValue(evaluateResult, ['calibration', 'count'], 0), 'calibration: calibration sums over no examples must be 0'],
  ])('%s', (_, schema, value, issue) => {
    expect(issuesOf(schema, value)).toEqual([issue]);
  });

  it('calibration sums over no examples are accepted when all are 0', () => {
    const zero = withValue(withValue(evaluateResult, ['calibration', 'count'], 0), ['calibration', 'stats'], [{ nll: 0, grad: 0, hess: 0 }, { nll: 0, grad: 0, hess: 0 }]);
    expect(issuesOf(EvaluateResult, zero)).toEqual([]);
    for (const field of ['nll', 'grad', 'hess']) {
      expect(issuesOf(EvaluateResult, withValue(zero, ['calibration', 'stats', 1, field], 1)), field).toEqual(['calibration: calibration sums over no examples must be 0']);
    }
  });
});

describe('the cross-field rules of adversarial training', () => {
  const attackLoss = 'attackLoss: attackLoss is the loss of the FGSM / PGD attack on the input: TRADES climbs its own KL, embedding perturbations the cross-entropy';
  const beta = 'beta: beta is the weight of TRADES\'s KL term: it needs method "trades"';
  const embedding = 'space: adversarial training on embeddings is FGSM/PGD in an L2 ball per token of absolute radius ε: no TRADES, no L∞ norm, no relative ε units';
  const eps = 'eps: an L∞ ε in absolute units is at most 1 (inputs are on [0, 1] or their own range)';
  const l2Embedding = { method: 'pgd', eps: 0.5, norm: 'l2', space: 'embedding' };
  it.each<[string, Record<string, unknown>, string[]]>([
    ['an attack loss with PGD', { ...adversarial, attackLoss: 'margin' }, []],
    ['an attack loss with FGSM', { ...adversarial, method: 'fgsm', attackLoss: 'mixed' }, []],
    ['an attack loss with TRADES', { ...adversarial, method: 'trades', attackLoss: 'margin' }, [attackLoss]],
    ['an attack loss on embeddings', { ...l2Embedding, attackLoss: 'ce' }, [attackLoss]],
    ['β with TRADES', { ...adversarial, method: 'trades', beta: 2 }, []],
    ['β with PGD', { ...adversarial, beta: 2 }, [beta]],
    ['β with FGSM', { ...adversarial, method: 'fgsm', beta: 2 }, [beta]],
    ['PGD on embeddings in an L2 ball', l2Embedding, []],
    ['FGSM on embeddings in an L2 ball', { ...l2Embedding, method: 'fgsm' }, []],
    ['absolute ε units on embeddings', { ...l2Embedding, epsUnits: 'absolute' }, []],
    ['TRADES on embeddings', { ...l2Embedding, method: 'trades' }, [embedding]],
    ['the L∞ norm on embeddings', { ...l2Embedding, norm: 'linf' }, [embedding]],
    ['no norm on embeddings (an embedding ball is L2)', { method: 'pgd', eps: 0.5, space: 'embedding' }, []],
    ['relative ε on embeddings', { ...l2Embedding, epsUnits: 'feature-std' }, [embedding]],
    ['ε 1 in L∞ absolute', { ...adversarial, eps: 1 }, []],
    ['ε 1.5 in L∞ absolute', { ...adversarial, eps: 1.5 }, [eps]],
    ['ε 1.5 with no norm given (L∞) in absolute units given', { ...adversarial, eps: 1.5, norm: 'linf', epsUnits: 'absolute' }, [eps]],
    ['ε 1.5 in L2', { ...adversarial, eps: 1.5, norm: 'l2' }, []],
    ['ε 1.5 in data-std units', { ...adversarial, eps: 1.5, epsUnits: 'data-std' }, []],
    ['ε 1.5 on embeddings', { ...l2Embedding, eps: 1.5 }, []],
    ['ε 1.5 on embeddings with no norm given (an embedding ball is L2, whatever the default norm)', { method: 'pgd', eps: 1.5, space: 'embedding' }, []],
  ])('%s', (_, config, issues) => {
    expect(issuesOf(AdversarialTraining, config)).toEqual(issues);
  });
});
