import fc from 'fast-check';
import { MAX_REPORTED_DURATION_MS, MAX_REPORTED_LOSS, PROTOCOL_VERSION, type ClientEvent, type ServerEvent } from '@fedtune/shared';

/**
 * fast-check arbitraries for every message of the protocol, built from the shapes in
 * shared/src/messages/schemas.ts: each generates payloads that the schema must accept.
 */
export const siteId = fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/);
export const runId = fc.string({ minLength: 1, maxLength: 128 });
export const round = fc.nat();
export const attempt = fc.integer({ min: 1, max: 1000 });
/** Finite numbers; -0 is generated as 0 because JSON (the wire) has no -0. */
export const metric = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);
export const count = fc.nat({ max: 1_000_000 });
const sha256Hex = fc.stringMatching(/^[0-9a-f]{64}$/);
export const errorCode = fc.stringMatching(/^[a-z][a-z0-9_]{0,63}$/);
/** Node delivers Buffers (Uint8Array), browsers ArrayBuffers: both are accepted. */
export const bytes = (min = 0, max = 64): fc.Arbitrary<Uint8Array | ArrayBuffer> =>
  fc.oneof(fc.uint8Array({ minLength: min, maxLength: max }), fc.uint8Array({ minLength: min, maxLength: max }).map((b) => b.slice().buffer));
const key = bytes(32, 32);
const sealed = fc.record({ from: siteId, to: siteId, nonce: bytes(12, 12), ciphertext: bytes(0, 1024) });
const revealed = fc.record({ owner: siteId, share: bytes(0, 128) });
// What a site reports is range-checked (issue 11): accuracy in [0, 1], loss in [0, 1e6], durations up to a day.
const reportedLoss = fc.double({ min: 0, max: MAX_REPORTED_LOSS, noNaN: true }).map((x) => x + 0);
const reportedAccuracy = fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x + 0);
const reportedDuration = fc.double({ min: 0, max: MAX_REPORTED_DURATION_MS, noNaN: true }).map((x) => x + 0);
const localMetrics = fc.record({ loss: reportedLoss, accuracy: reportedAccuracy });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const unit = fc.double({ min: 0, max: 1, noNaN: true });
const siteArm = fc.record(
  {
    accuracy: reportedAccuracy,
    loss: reportedLoss,
    robust: optional(fc.record({ noiseMean: fc.option(reportedAccuracy, { nil: null }), corruptionMean: fc.option(reportedAccuracy, { nil: null }), pgd: fc.array(fc.record({ eps: reportedAccuracy, accuracy: reportedAccuracy }), { maxLength: 4 }) })),
  },
  { requiredKeys: ['accuracy', 'loss'] },
);

const trainConfig = fc.record(
  {
    epochs: fc.integer({ min: 1, max: 1000 }),
    batchSize: fc.integer({ min: 1, max: 65536 }),
    learningRate: fc.double({ min: Number.MIN_VALUE, max: 10, noNaN: true }),
    optimizer: fc.constantFrom('sgd', 'momentum', 'adam'),
    trainable: fc.oneof(fc.constantFrom('all', 'head'), fc.integer({ min: 1, max: 100 })),
    seed: fc.nat(),
    maxExamples: optional(fc.integer({ min: 1, max: 1e6 })),
    augmentation: optional(fc.record({ share: unit, corruptions: optional(fc.array(fc.string({ maxLength: 64 }), { maxLength: 64 })), noiseSigmas: optional(fc.array(unit, { maxLength: 16 })) })),
    proximalMu: optional(fc.double({ min: 0, max: 100, noNaN: true })),
    weightDecay: optional(unit),
    dropout: optional(fc.double({ min: 0, max: 0.95, noNaN: true })),
  },
  { requiredKeys: ['epochs', 'batchSize', 'learningRate', 'optimizer', 'trainable', 'seed'] },
);

/** Distinct invited sites and a threshold no larger than their number (as the schema requires). */
const secureAggregation = fc.uniqueArray(siteId, { minLength: 2, maxLength: 8 }).chain((sites) =>
  fc.record({
    attempt,
    sites: fc.constant(sites),
    threshold: fc.integer({ min: 1, max: sites.length }),
    vectorLength: fc.integer({ min: 1, max: 1e6 }),
    fixedPoint: fc.record({ range: fc.double({ min: 1e-3, max: 1e3, noNaN: true }), maxTotalWeight: fc.double({ min: 1e-3, max: 1e3, noNaN: true }), scale: fc.double({ min: 1e-3, max: 1e6, noNaN: true }) }),
    clip: fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
    weighting: fc.constantFrom('examples', 'uniform'),
    weightDenominator: fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
  }),
);

const weightSpec = fc.record({ name: fc.string({ maxLength: 512 }), shape: fc.array(fc.nat({ max: 2 ** 31 - 1 }), { maxLength: 8 }), dtype: fc.constant('float32') });

export const validClientPayloads: { [K in ClientEvent]: fc.Arbitrary<unknown> } = {
  hello: fc.record(
    { protocol: fc.constant(PROTOCOL_VERSION), siteId, token: fc.string({ maxLength: 512 }), capabilities: fc.record({ backend: fc.string({ minLength: 1, maxLength: 64 }), runtime: fc.constantFrom('node', 'browser'), numExamples: count }) },
    { requiredKeys: ['protocol', 'siteId', 'capabilities'] },
  ),
  fitResult: fc.record({ runId, round, siteId, weights: bytes(), numExamples: count, metrics: localMetrics, durationMs: reportedDuration }),
  evaluateResult: fc.record({ runId, round, siteId, numExamples: count, metrics: localMetrics }),
  siteFailure: fc.record({ runId, round, siteId, code: errorCode, reason: fc.string({ maxLength: 2000 }) }),
  heartbeat: fc.record({ siteId, status: fc.constantFrom('idle', 'training', 'evaluating') }),
  secaggAdvertise: fc.record({ runId, round, attempt, siteId, encryptionPublicKey: key, maskingPublicKey: key, selfMaskCommitment: key, numExamples: count, metrics: localMetrics, durationMs: reportedDuration }),
  secaggShareKeys: fc.record({ runId, round, attempt, siteId, shares: fc.array(sealed, { maxLength: 4 }) }),
  secaggMasked: fc.record({ runId, round, attempt, siteId, masked: fc.uint32Array({ maxLength: 16 }).map((a) => new Uint8Array(a.buffer)) }),
  secaggUnmaskResponse: fc.record({ runId, round, attempt, siteId, selfMaskShares: fc.array(revealed, { maxLength: 4 }), maskingKeyShares: fc.array(revealed, { maxLength: 4 }) }),
  siteReportResult: fc.record(
    {
      runId,
      round,
      siteId,
      numExamples: count,
      arms: fc.record({ pretrained: optional(siteArm), localOnly: optional(siteArm), global: siteArm, personalized: optional(siteArm) }, { requiredKeys: ['global'] }),
      adopted: optional(fc.boolean()),
      durationMs: reportedDuration,
    },
    { requiredKeys: ['runId', 'round', 'siteId', 'numExamples', 'arms', 'durationMs'] },
  ),
  acceptTerms: fc.record({ runId, siteId, hash: sha256Hex }),
  refuseTerms: fc.record({ runId, siteId, code: errorCode, reason: fc.string({ maxLength: 2000 }) }),
  dataSummary: fc.record(
    { runId, siteId, examples: count, duplicatesDropped: count, missingImputed: count, constantFeatures: count, labelCounts: fc.array(count, { maxLength: 20 }), featureNames: fc.array(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: 8 }) },
    { requiredKeys: ['runId', 'siteId', 'examples', 'duplicatesDropped', 'missingImputed', 'constantFeatures', 'labelCounts'] },
  ),
};

export const validServerPayloads: { [K in ServerEvent]: fc.Arbitrary<unknown> } = {
  terms: fc.record({
    terms: fc.record({
      runId,
      coordinator: sha256Hex,
      rounds: fc.integer({ min: 1, max: 1000 }),
      minSites: fc.integer({ min: 1, max: 1000 }),
      fraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
      model: fc.record({ architecture: fc.string({ minLength: 1, maxLength: 64 }), topologyHash: sha256Hex, initialWeightsHash: sha256Hex, parameters: fc.nat() }),
      train: trainConfig.map(({ seed: _seed, ...rest }) => rest),
      maxExamplesPerSite: fc.integer({ min: 1, max: 1e6 }),
      federatedEvaluation: fc.constantFrom('never', 'final', 'every-round'),
    }),
    hash: sha256Hex,
    signature: fc.stringMatching(/^[0-9a-f]{128}$/),
  }),
  welcome: fc.record({ protocol: fc.constant(PROTOCOL_VERSION), runId, siteId }),
  model: fc.record({ runId, modelVersion: fc.nat(), topology: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), manifest: fc.array(weightSpec, { maxLength: 6 }) }),
  fit: fc.record({ runId, round, modelVersion: fc.nat(), weights: bytes(), config: trainConfig, secureAggregation: optional(secureAggregation) }, { requiredKeys: ['runId', 'round', 'modelVersion', 'weights', 'config'] }),
  evaluate: fc.record({ runId, round, modelVersion: fc.nat(), weights: bytes() }),
  rejected: fc.record({ runId, round, code: errorCode, reason: fc.string({ maxLength: 2000 }) }, { requiredKeys: ['code', 'reason'] }),
  complete: fc.record({ runId, rounds: fc.nat(), final: optional(fc.record({ accuracy: metric, loss: metric })), aborted: optional(fc.string({ maxLength: 2000 })) }),
  secaggKeys: fc.record({ runId, round, attempt, keys: fc.array(fc.record({ siteId, encryptionPublicKey: key, maskingPublicKey: key }), { maxLength: 4 }) }),
  secaggShares: fc.record({ runId, round, attempt, participants: fc.array(siteId, { maxLength: 6 }), shares: fc.array(sealed, { maxLength: 4 }) }),
  secaggUnmask: fc.record({ runId, round, attempt, survivors: fc.array(siteId, { maxLength: 6 }) }),
  siteReport: fc.record(
    {
      runId,
      round,
      modelVersion: fc.nat(),
      weights: bytes(),
      pretrained: optional(bytes()),
      train: trainConfig,
      personalization: optional(fc.record({ mode: fc.constantFrom('none', 'head', 'lp-ft', 'fedbn', 'ditto'), epochs: fc.integer({ min: 1, max: 1000 }), lambda: fc.double({ min: 0, max: 100, noNaN: true }), validate: fc.boolean() })),
      localOnlyEpochs: optional(fc.integer({ min: 1, max: 100_000 })),
      robustness: optional(
        fc.record({
          examples: fc.integer({ min: 1, max: 100_000 }),
          adversarialExamples: fc.integer({ min: 0, max: 100_000 }),
          noiseSigmas: fc.array(unit, { maxLength: 4 }),
          corruptions: fc.boolean(),
          pgdEps: fc.array(unit, { maxLength: 4 }),
          pgdSteps: fc.integer({ min: 1, max: 1000 }),
          seed: fc.nat(),
        }),
      ),
    },
    { requiredKeys: ['runId', 'round', 'modelVersion', 'weights', 'train'] },
  ),
};

/** Values a hostile peer can put anywhere: wrong types, non-finite numbers, huge and deep values, prototype keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 4, withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withObjectString: true, withSparseArray: true, withTypedArray: true }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, 1e308, -1, 0.5, '', '0', 'NaN', null, true, [], {}),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString').map((k) => JSON.parse(`{"${k}":{"polluted":true}}`) as unknown),
  fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)),
);

/** Sets `value` at a random path of `payload` (a copy), to corrupt one field of an otherwise valid message. */
export function corruptAt(payload: unknown, choice: number, value: unknown): unknown {
  if (typeof payload !== 'object' || payload === null || payload instanceof Uint8Array || payload instanceof ArrayBuffer) return value;
  const keys = Object.keys(payload);
  if (keys.length === 0) return value;
  const copy: Record<string, unknown> = Array.isArray(payload) ? ([...payload] as unknown as Record<string, unknown>) : { ...(payload as Record<string, unknown>) };
  const k = keys[choice % keys.length];
  // Go deeper half of the time, so nested fields are hit too.
  copy[k] = choice % 2 === 0 ? value : corruptAt(copy[k], Math.floor(choice / 2), value);
  return copy;
}

export function deeplyNested(depth: number, kind: 'array' | 'object'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}
