import { z } from 'zod';

/**
 * One schema per message. These give both the runtime validation of every incoming payload and the
 * TypeScript types; the event maps in `events.ts` derive from them.
 */
export const PROTOCOL_VERSION = 1 as const;

/** Binary payload: Node delivers Buffers (Uint8Array), browsers deliver ArrayBuffers. Normalized to Uint8Array. */
export const Bytes = z
  .union([z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary data'), z.instanceof(ArrayBuffer)])
  .transform((b) => (b instanceof Uint8Array ? b : new Uint8Array(b)));

const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'site id may use letters, digits, ".", "_" and "-"');
const RunId = z.string().min(1).max(128);
const Round = z.number().int().min(0);
const Metric = z.number().finite();

export const Capabilities = z.object({
  backend: z.string().min(1).max(64),
  runtime: z.enum(['node', 'browser']),
  numExamples: z.number().int().min(0),
});

export const Hello = z.object({
  protocol: z.literal(PROTOCOL_VERSION),
  siteId: SiteId,
  token: z.string().max(512).optional(),
  capabilities: Capabilities,
});

export const Welcome = z.object({
  protocol: z.literal(PROTOCOL_VERSION),
  runId: RunId,
  siteId: SiteId,
});

export const WeightSpecSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)),
  dtype: z.literal('float32'),
});

/** The model's architecture, sent once per site; weights follow with every instruction. */
export const ModelTopology = z.object({
  runId: RunId,
  modelVersion: z.number().int().min(0),
  /** Keras-style model JSON as produced by `model.toJSON(null, false)`. */
  topology: z.record(z.string(), z.unknown()),
  manifest: z.array(WeightSpecSchema),
});

export const TrainConfig = z.object({
  epochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  learningRate: z.number().positive().max(10),
  optimizer: z.enum(['sgd', 'momentum', 'adam']),
  /** Which layers train: all, only the last (head), or the last k layers that have weights. */
  trainable: z.union([z.literal('all'), z.literal('head'), z.number().int().min(1)]),
  /** Seed for this site's shuffling in this round. */
  seed: z.number().int().min(0),
  /** Optional cap on examples used per round. */
  maxExamples: z.number().int().min(1).optional(),
  // Robust fine-tuning (docs/robustness.md). All optional: a config without them trains as before.
  /** Noise / corruption augmentation: each training example is replaced, with probability `share`, by a corrupted copy. */
  augmentation: z
    .object({
      share: z.number().min(0).max(1),
      /** Corruption names (the registry's); default all corruptions for the input kind. [] for noise only. */
      corruptions: z.array(z.string().max(64)).max(64).optional(),
      /** Gaussian noise σ values drawn from alongside the corruptions; default [0.1, 0.2, 0.3]. [] for corruptions only. */
      noiseSigmas: z.array(z.number().min(0).max(1)).max(16).optional(),
    })
    .optional(),
  /** Adversarial training: a share of every batch is replaced by FGSM or PGD examples against the current model. */
  adversarial: z
    .object({
      method: z.enum(['fgsm', 'pgd']),
      share: z.number().min(0).max(1),
      eps: z.number().min(0).max(1),
      /** PGD iterations (default 7) and step size (default 2.5·eps/steps). */
      steps: z.number().int().min(1).max(100).optional(),
      stepSize: z.number().positive().max(1).optional(),
    })
    .optional(),
  /** FedProx proximal coefficient μ: (μ/2)·‖w − w_global‖² is added to the local loss. */
  proximalMu: z.number().min(0).max(100).optional(),
  /** L2 weight decay λ: (λ/2)·‖W‖² over the trainable kernels is added to the local loss. */
  weightDecay: z.number().min(0).max(1).optional(),
  /** Rate of the model's dropout layers during local training (no effect on a model without dropout layers). */
  dropout: z.number().min(0).max(0.95).optional(),
  /** Early stopping on the site's validation split: stop after `patience` epochs without a validation-loss improvement of `minDelta`, keep the best weights. */
  earlyStopping: z.object({ patience: z.number().int().min(1).max(1000), minDelta: z.number().min(0).optional() }).optional(),
});

export const FitInstruction = z.object({
  runId: RunId,
  round: Round,
  modelVersion: z.number().int().min(0),
  weights: Bytes,
  config: TrainConfig,
});

export const LocalMetrics = z.object({
  loss: Metric,
  accuracy: Metric,
});

export const FitResult = z.object({
  runId: RunId,
  round: Round,
  siteId: SiteId,
  /** The site's locally fine-tuned weights, encoded with the weights codec. */
  weights: Bytes,
  numExamples: z.number(),
  metrics: LocalMetrics,
  durationMs: z.number().min(0),
});

export const EvaluateInstruction = z.object({
  runId: RunId,
  round: Round,
  modelVersion: z.number().int().min(0),
  weights: Bytes,
});

export const EvaluateResult = z.object({
  runId: RunId,
  round: Round,
  siteId: SiteId,
  numExamples: z.number().int().min(0),
  metrics: LocalMetrics,
});

/** Sent by a site every few seconds so the coordinator knows it is alive. */
export const Heartbeat = z.object({
  siteId: SiteId,
  status: z.enum(['idle', 'training', 'evaluating']),
});

/** A site could not carry out an instruction (bad data, backend failure). */
export const SiteFailure = z.object({
  runId: RunId,
  round: Round,
  siteId: SiteId,
  code: z.string().max(64),
  reason: z.string().max(2000),
});

export const Rejection = z.object({
  runId: RunId.optional(),
  round: Round.optional(),
  code: z.string().max(64),
  reason: z.string().max(2000),
});

export const RunComplete = z.object({
  runId: RunId,
  rounds: z.number().int().min(0),
  final: z.object({ accuracy: Metric, loss: Metric }).optional(),
  aborted: z.string().optional(),
});

export type Hello = z.output<typeof Hello>;
export type Welcome = z.output<typeof Welcome>;
export type ModelTopology = z.output<typeof ModelTopology>;
export type TrainConfig = z.output<typeof TrainConfig>;
export type FitInstruction = z.output<typeof FitInstruction>;
export type FitResult = z.output<typeof FitResult>;
export type EvaluateInstruction = z.output<typeof EvaluateInstruction>;
export type EvaluateResult = z.output<typeof EvaluateResult>;
export type SiteFailure = z.output<typeof SiteFailure>;
export type Heartbeat = z.output<typeof Heartbeat>;
export type Rejection = z.output<typeof Rejection>;
export type RunComplete = z.output<typeof RunComplete>;
export type LocalMetrics = z.output<typeof LocalMetrics>;
