import { z } from 'zod';
import { RunClassNames } from '../data/align-class-labels.ts';
import { clipText } from '../text/clip-text.ts';
import { hasControlCharacters } from '../text/one-line.ts';
import { WEIGHTS_LIMITS } from '../weights.ts';
import { MAX_TEMPERATURE_QUERY, TEMPERATURE_RANGE } from '../robustness/calibration/temperature-search.ts';
import { ModelTextSection } from './model-text-section.ts';
import { UpdateEncoding } from '../codec/update-codec.ts';
import { ModelRef } from './model-ref.ts';

/**
 * One schema per message. These give both the runtime validation of every incoming payload and the
 * TypeScript types; the event maps in `events.ts` derive from them.
 */
export const PROTOCOL_VERSION = 1 as const;

/** Binary payload: Node delivers Buffers (Uint8Array), browsers deliver ArrayBuffers. Normalized to Uint8Array. */
export const Bytes = z
  .custom<Uint8Array | ArrayBuffer>((v) => v instanceof Uint8Array || v instanceof ArrayBuffer, 'expected binary data')
  .transform((b) => (b instanceof Uint8Array ? b : new Uint8Array(b)));

/**
 * Most sites one secure-aggregation round can involve: bounds every per-site array a peer sends (and so the
 * worst valid message anyone must parse). Well above a real federation (tens to thousands of sites).
 */
export const MAX_FEDERATION_SITES = 10_000;

/**
 * Most coordinates a secure-aggregation update may have (2^27 ≈ 134 M parameters, 512 MB of masked uint32):
 * a bound on what a site allocates for a coordinator's instruction, which it also checks against its model.
 */
export const MAX_SECAGG_VECTOR_LENGTH = 2 ** 27;

const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'site id may use letters, digits, ".", "_" and "-"');
const RunId = z.string().min(1).max(128);
const Round = z.number().int().min(0);
const Metric = z.number().finite();
/** An error code as FedtuneError spells them (lowercase words joined by "_"): no spaces, quotes or control characters for a log. */
const ErrorCode = z.string().max(64).regex(/^[a-z][a-z0-9_]*$/, 'code may use lowercase letters, digits and "_"');

/**
 * Range checks on what sites report about themselves (docs/robustness.md#poisoning-safe-defaults): an
 * impossible metric is refused with the message ('malformed_payload') and never stored.
 */
/** Largest loss a site may report (cross-entropy of a sane model is far below; a diverged one still fits). */
export const MAX_REPORTED_LOSS = 1e6;
/** Longest duration a site may report for one fit: a day. */
export const MAX_REPORTED_DURATION_MS = 86_400_000;
/** Largest example count a site may announce or report (the run's own cap, maxExamplesPerSite, is usually lower). */
export const MAX_REPORTED_EXAMPLES = 1_000_000_000;
const Accuracy = z.number().min(0).max(1);
const Loss = z.number().min(0).max(MAX_REPORTED_LOSS);
const DurationMs = z.number().min(0).max(MAX_REPORTED_DURATION_MS);
const ExampleCount = z.number().int().min(0).max(MAX_REPORTED_EXAMPLES);

export const Capabilities = z.object({
  backend: z.string().min(1).max(64),
  runtime: z.enum(['node', 'browser']),
  /** Training examples the site holds: caps the count it may claim for an update. */
  numExamples: ExampleCount,
  /**
   * Other coordinator nodes this site can still try in this attempt (a cluster's `--server` list): a node holding
   * more than its share of the cluster's sites may refuse the hello with `node_busy`, and the site moves on.
   * Absent or 0: the hello is never refused for placement.
   */
  alternatives: z.number().int().min(0).max(64).optional(),
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

/** Bounded as the weights codec bounds its header (WEIGHTS_LIMITS). */
export const WeightSpecSchema = z.object({
  name: z.string().max(WEIGHTS_LIMITS.maxNameLength),
  shape: z.array(z.number().int().min(0).max(WEIGHTS_LIMITS.maxDim)).max(WEIGHTS_LIMITS.maxRank),
  dtype: z.literal('float32'),
});

/** The model's architecture, sent once per site; weights follow with every instruction. */
export const ModelTopology = z.object({
  runId: RunId,
  modelVersion: z.number().int().min(0),
  /** Keras-style model JSON as produced by `model.toJSON(null, false)`. */
  topology: z.record(z.string(), z.unknown()),
  manifest: z.array(WeightSpecSchema).max(WEIGHTS_LIMITS.maxTensors),
  /** A text model's vocabulary and sequence length (model-text-section.ts): the site tokenizes its texts with it. */
  text: ModelTextSection.optional(),
  /** The run's class names (index → name): a site numbers its named labels by them (align-class-labels.ts). */
  classNames: RunClassNames.optional(),
});

/**
 * The adversarial-training defaults of the fields left out of `TrainConfig.adversarial` (docs/robustness.md):
 * PGD steps, TRADES β, the attack's norm, ε's units, AWP's γ (off), the training attack's loss. The PGD step size defaults to 2.5·ε/steps.
 */
export const ADVERSARIAL_DEFAULTS = Object.freeze({ steps: 7, beta: 6, norm: 'linf', epsUnits: 'absolute', awp: 0, attackLoss: 'ce' } as const);

/**
 * Adversarial training (docs/robustness.md#adversarial-training). 'fgsm' and 'pgd' replace the first
 * ⌈share·n⌉ examples of every (shuffled) batch by adversarial examples; 'trades' (Zhang et al. 2019) adds
 * β·KL(p(clean) ‖ p(adv)) over those examples to the clean cross-entropy, with the adversarial input found by
 * PGD on the KL. ε is in `epsUnits` of the site's own training data; `warmupRounds` k ramps ε linearly from
 * ε/k in round 1 to ε in round k (the coordinator sends each round's ε).
 */
export const AdversarialTraining = z
  .object({
    method: z.enum(['fgsm', 'pgd', 'trades']).default('pgd'),
    share: z.number().min(0).max(1).default(1),
    /** Radius of the attack's ball, in `epsUnits` (an L∞ radius in absolute units is at most 1). */
    eps: z.number().min(0).max(100),
    /** PGD / TRADES iterations (default ADVERSARIAL_DEFAULTS.steps) and step size (default 2.5·eps/steps), in `epsUnits`. */
    steps: z.number().int().min(1).max(100).optional(),
    stepSize: z.number().positive().max(100).optional(),
    /** The attack's norm: 'linf' (signed steps, box projection) or 'l2' (normalised-gradient steps, projection onto the L2 ball). */
    norm: z.enum(['linf', 'l2']).optional(),
    /** TRADES weight β of the KL term (default ADVERSARIAL_DEFAULTS.beta). */
    beta: z.number().min(0).max(100).optional(),
    /**
     * Units of eps and stepSize: 'absolute' input units; 'feature-std': feature j moves by ε × its standard
     * deviation on the site's training data; 'data-std': ε × the standard deviation of all the site's input
     * values (one scalar: images).
     */
    epsUnits: z.enum(['absolute', 'feature-std', 'data-std']).optional(),
    /** ε warm-up: over the first k rounds ε ramps linearly from ε/k to ε (applied by the coordinator). */
    warmupRounds: z.number().int().min(1).max(1000).optional(),
    /**
     * Where the perturbation lives: 'input' (default; images, tabular) or 'embedding' (text: the output of the
     * model's first layer, an Embedding, perturbed within an L2 ball of radius ε per token; learning/embedding-perturbation.ts).
     */
    space: z.enum(['input', 'embedding']).optional(),
    /**
     * Adversarial weight perturbation (AWP, Wu et al. 2020; learning/adversarial-weight-perturbation.ts): each
     * step's gradient is taken at weights moved up the training loss by γ times each weight matrix's own norm,
     * and applied to the unperturbed weights. 0 or absent: off. Costs one more forward and backward pass a step.
     */
    awp: z.number().min(0).max(1).optional(),
    /**
     * The loss the training attack climbs (FGSM / PGD in input space): 'ce' (default) the cross-entropy, 'margin'
     * the logit margin (Carlini–Wagner), 'mixed' the first half of the adversarial examples by cross-entropy
     * and the rest by the margin — the two losses the robustness evaluation takes the worst case of.
     */
    attackLoss: z.enum(['ce', 'margin', 'mixed']).optional(),
  })
  .refine((a) => a.attackLoss === undefined || (a.method !== 'trades' && a.space !== 'embedding'), {
    message: "attackLoss is the loss of the FGSM / PGD attack on the input: TRADES climbs its own KL, embedding perturbations the cross-entropy",
    path: ['attackLoss'],
  })
  .refine((a) => a.beta === undefined || a.method === 'trades', { message: 'beta is the weight of TRADES\'s KL term: it needs method "trades"', path: ['beta'] })
  .refine((a) => a.space !== 'embedding' || (a.method !== 'trades' && a.norm !== 'linf' && (a.epsUnits ?? 'absolute') === 'absolute'), {
    message: 'adversarial training on embeddings is FGSM/PGD in an L2 ball per token of absolute radius ε: no TRADES, no L∞ norm, no relative ε units',
    path: ['space'],
  })
  .refine((a) => a.space === 'embedding' || !(a.eps > 1 && (a.norm ?? 'linf') === 'linf' && (a.epsUnits ?? 'absolute') === 'absolute'), {
    message: 'an L∞ ε in absolute units is at most 1 (inputs are on [0, 1] or their own range)',
    path: ['eps'],
  });
export type AdversarialTraining = z.output<typeof AdversarialTraining>;

/**
 * A learning-rate schedule over the run's rounds (docs/robustness.md#learning-rate-schedule), applied by the
 * coordinator to each round's training settings (learning/learning-rate-schedule.ts): the sites receive the
 * round's learning rate. 'cosine': from the learning rate in round 1 down to `finalFactor` × it in the last
 * round along a half cosine; 'step': × `factor` every `every` rounds.
 */
export const LearningRateSchedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cosine'), finalFactor: z.number().gt(0).max(1).default(0.1) }),
  z.object({ kind: z.literal('step'), every: z.number().int().min(1).max(1000), factor: z.number().gt(0).max(1).default(0.5) }),
]);
export type LearningRateSchedule = z.output<typeof LearningRateSchedule>;

export const TrainConfig = z.object({
  epochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  learningRate: z.number().positive().max(10),
  optimizer: z.enum(['sgd', 'momentum', 'adam']),
  /** The learning rate over the rounds (absent: constant); the coordinator applies it and sends each round's rate. */
  learningRateSchedule: LearningRateSchedule.optional(),
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
  /** Adversarial training: a share of every batch is replaced by FGSM or PGD examples against the current model, or trained with TRADES. */
  adversarial: AdversarialTraining.optional(),
  /** FedProx proximal coefficient μ: (μ/2)·‖w − w_global‖² is added to the local loss (with strategy fedprox, its option proximalMu sets it: a different value here is refused). */
  proximalMu: z.number().min(0).max(100).optional(),
  /** L2 weight decay λ: (λ/2)·‖W‖² over the trainable kernels is added to the local loss. */
  weightDecay: z.number().min(0).max(1).optional(),
  /** Rate of the model's dropout layers during local training (no effect on a model without dropout layers). */
  dropout: z.number().min(0).max(0.95).optional(),
  /** Early stopping on the site's validation split: stop after `patience` epochs without a validation-loss improvement of `minDelta`, keep the best weights. */
  earlyStopping: z.object({ patience: z.number().int().min(1).max(1000), minDelta: z.number().min(0).optional() }).optional(),
  /**
   * Record-level DP-SGD inside the site (docs/privacy.md): per-example gradients clipped to L2 norm `clip`,
   * N(0, (noiseMultiplier·clip)²) noise per coordinate on their sum; the site reports ε(`delta`, default 1e-5).
   */
  dpSgd: z.object({ clip: z.number().positive(), noiseMultiplier: z.number().min(0).max(1000), delta: z.number().gt(0).lt(1).optional() }).optional(),
  /** FedBN: the site starts every round from the global model with its own BatchNorm layers (γ, β, statistics) put back. */
  localBatchNorm: z.boolean().optional(),
  /** How the site sends its update (absent: float32; 'fp16'/'int8': the compressed delta, shared/src/codec/update-codec.ts). */
  updateEncoding: UpdateEncoding.optional(),
  /**
   * Text sites (docs/text.md#text-augmentation): each round the site trains on its texts plus `copies` perturbed
   * copies of each, a random text corruption at `rate` (augment-texts.ts), seeded by the round; a site may opt out.
   */
  textAugmentation: z.object({ copies: z.number().int().min(1).max(16), rate: z.number().gt(0).max(1) }).optional(),
});

/**
 * Secure aggregation for one round attempt (docs/privacy.md): the site keeps its update, clips its delta to
 * `clip`, and takes part in the secagg* exchange below instead of sending 'fitResult'.
 */
export const SecureAggInstruction = z
  .object({
    /** Round attempt: secagg messages echo it, so a late message from an earlier attempt is never mixed in. */
    attempt: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    /** The invited sites (the round's selection). */
    sites: z.array(SiteId).min(2).max(MAX_FEDERATION_SITES),
    threshold: z.number().int().min(1).max(MAX_FEDERATION_SITES),
    neighbours: z.number().int().min(2).max(MAX_FEDERATION_SITES).optional(),
    /** Coordinates of one update (all tensors). The site checks it equals its own model's parameter count. */
    vectorLength: z.number().int().min(1).max(MAX_SECAGG_VECTOR_LENGTH),
    fixedPoint: z.object({ range: z.number().positive().max(1e9), maxTotalWeight: z.number().positive().max(1e9), scale: z.number().positive().max(2 ** 31) }),
    /** L2 norm the delta (local − global) is clipped to before quantization. */
    clip: z.number().positive().max(1e9),
    /** 'examples': w = numExamples / weightDenominator; 'uniform': w = 1 / weightDenominator (DP-FedAvg). */
    weighting: z.enum(['examples', 'uniform']),
    weightDenominator: z.number().positive().max(1e15),
    /**
     * Distributed DP (shared/src/privacy/distributed-dp.ts): the site adds discrete Gaussian noise of variance
     * (z·clip·scale/weightDenominator)²/threshold to its quantized input before masking. The site recomputes
     * the variance from the other fields and refuses an instruction whose `variance` differs.
     */
    distributedNoise: z.object({ mechanism: z.literal('discrete-gaussian'), noiseMultiplier: z.number().min(0).max(1000), variance: z.number().min(0).max(2 ** 62) }).optional(),
  })
  .refine((i) => new Set(i.sites).size === i.sites.length, { message: 'the invited sites must be distinct', path: ['sites'] })
  .refine((i) => i.threshold <= i.sites.length, { message: 'the threshold cannot exceed the number of invited sites', path: ['threshold'] });

/**
 * The global model's version (the round after which it is current; 0 = the initial model). An instruction
 * for a model version the site said it holds (EvaluateResult.heldModelVersion) carries no weights.
 */
const ModelVersion = z.number().int().min(0);

/** Cross-device sites: drop the model once this instruction is answered (run config `sitesKeepModel: false`). */
const DropModel = z.boolean().optional();

export const FitInstruction = z.object({
  runId: RunId,
  round: Round,
  modelVersion: ModelVersion,
  /** Absent when the site holds `modelVersion` already. */
  weights: Bytes.optional(),
  /** Instead of `weights`: where to fetch them over HTTP and their sha-256 (model-ref.ts). */
  modelRef: ModelRef.optional(),
  dropModel: DropModel,
  config: TrainConfig,
  /** Present when the round runs secure aggregation. */
  secureAggregation: SecureAggInstruction.optional(),
});

export const LocalMetrics = z.object({
  loss: Loss,
  accuracy: Accuracy,
});

/** Record-level DP-SGD spent by the site so far (all its rounds in this run): ε(δ) of the RDP accountant. */
export const SitePrivacy = z.object({
  // Bounded as the ledger's ε (an ε past 1e12 protects nothing and only inflates what is stored).
  epsilon: z.number().finite().min(0).max(1e12),
  delta: z.number().gt(0).lt(1),
  /** DP-SGD steps composed so far. */
  steps: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  samplingRate: z.number().min(0).max(1),
  noiseMultiplier: z.number().min(0).max(1000),
});

/** A site's privacy-ledger totals (docs/privacy.md#privacy-ledger): ε spent in this run and over all runs; null = unbounded. */
const LedgerEpsilon = z.number().finite().min(0).max(1e12).nullable();
export const SiteLedgerTotals = z.object({ runEpsilon: LedgerEpsilon, totalEpsilon: LedgerEpsilon }).strict();

/** A fit's metrics: the local loss and accuracy, the site's DP-SGD spend when it trains with DP-SGD, and its ledger totals when it keeps a ledger. */
export const FitResultMetrics = LocalMetrics.extend({ privacy: SitePrivacy.optional(), ledger: SiteLedgerTotals.optional() });

export const FitResult = z.object({
  runId: RunId,
  round: Round,
  siteId: SiteId,
  /** The site's locally fine-tuned weights, encoded with the weights codec. */
  weights: Bytes,
  /** Range-checked by the coordinator (validate-fit-result.ts: 'invalid_count'), against the hello and the run's cap. */
  numExamples: z.number(),
  metrics: FitResultMetrics,
  durationMs: DurationMs,
});

// Secure aggregation (shared/src/privacy/secagg-messages.ts), one schema per phase. Site ids and counts are
// bounded; binary fields are Bytes (a masked vector travels as little-endian uint32 bytes).
const Attempt = z.number().int().min(1);
const PublicKey = Bytes.refine((b) => b.length === 32, 'expected a 32-byte public key');
const SealedShares = z.object({
  from: SiteId,
  to: SiteId,
  nonce: Bytes.refine((b) => b.length === 12, 'expected a 12-byte nonce'),
  ciphertext: Bytes.refine((b) => b.length <= 1024, 'ciphertext too large'),
});
const RevealedShare = z.object({ owner: SiteId, share: Bytes.refine((b) => b.length <= 128, 'share too large') });

/** Phase 0, site → coordinator, after local training: its public keys and the metrics it reports anyway. */
export const SecureAggAdvertise = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  siteId: SiteId,
  encryptionPublicKey: PublicKey,
  maskingPublicKey: PublicKey,
  /** SHA-256 commitment to the site's self-mask seed (secagg-crypto.ts selfMaskCommitment). */
  selfMaskCommitment: Bytes.refine((b) => b.length === 32, 'expected a 32-byte commitment'),
  numExamples: ExampleCount,
  /** As a fitResult's: with the site's DP-SGD spend (`privacy`) when it trains with DP-SGD. */
  metrics: FitResultMetrics,
  durationMs: DurationMs,
});

/** Phase 0 → 1, coordinator → sites: U1's public keys. */
export const SecureAggKeys = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  keys: z.array(z.object({ siteId: SiteId, encryptionPublicKey: PublicKey, maskingPublicKey: PublicKey })).max(MAX_FEDERATION_SITES),
});

/** Phase 1, site → coordinator: Shamir shares of its secrets, sealed to each neighbour. */
export const SecureAggShareKeys = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  siteId: SiteId,
  shares: z.array(SealedShares).max(MAX_FEDERATION_SITES),
});

/** Phase 1 → 2, coordinator → each site of U2: U2 and the sealed shares addressed to it. */
export const SecureAggShares = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  participants: z.array(SiteId).max(MAX_FEDERATION_SITES),
  shares: z.array(SealedShares).max(MAX_FEDERATION_SITES),
});

/** Phase 2, site → coordinator: its masked, quantized, weighted update (uint32 little-endian bytes). */
export const SecureAggMasked = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  siteId: SiteId,
  masked: Bytes.refine((b) => b.length % 4 === 0, 'masked input must be whole uint32 values'),
});

/** Phase 2 → 3, coordinator → survivors: U3. */
export const SecureAggUnmask = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  survivors: z.array(SiteId).max(MAX_FEDERATION_SITES),
});

/** Phase 3, site → coordinator: per neighbour, the self-mask share (survivor) or the masking-key share (dropped). */
export const SecureAggUnmaskResponse = z.object({
  runId: RunId,
  round: Round,
  attempt: Attempt,
  siteId: SiteId,
  selfMaskShares: z.array(RevealedShare).max(MAX_FEDERATION_SITES),
  maskingKeyShares: z.array(RevealedShare).max(MAX_FEDERATION_SITES),
  /** Dealers whose sealed shares to this site could not be used (none of theirs is revealed above). */
  unusable: z.array(SiteId).max(MAX_FEDERATION_SITES).optional(),
});

/** Largest magnitude of a calibration sum a site may report (a sum of per-example NLLs and their derivatives). */
export const MAX_CALIBRATION_SUM = 1e15;
/** Inverse temperatures 1/T of a federated temperature fit: within the fit's range, at most 32 per query. */
const InverseTemperatures = z.array(z.number().min(1 / TEMPERATURE_RANGE.max).max(1 / TEMPERATURE_RANGE.min)).min(1).max(MAX_TEMPERATURE_QUERY);
const CalibrationSum = z.number().finite().min(-MAX_CALIBRATION_SUM).max(MAX_CALIBRATION_SUM);

export const EvaluateInstruction = z.object({
  runId: RunId,
  round: Round,
  modelVersion: ModelVersion,
  /** Absent when the site holds `modelVersion` already. */
  weights: Bytes.optional(),
  /** Instead of `weights`: where to fetch them over HTTP and their sha-256 (model-ref.ts). */
  modelRef: ModelRef.optional(),
  dropModel: DropModel,
  /** Federated temperature scaling: also evaluate the NLL sums at these inverse temperatures on the validation split. */
  calibration: z.object({ betas: InverseTemperatures }).optional(),
});

export const EvaluateResult = z.object({
  runId: RunId,
  round: Round,
  siteId: SiteId,
  numExamples: ExampleCount,
  metrics: LocalMetrics,
  /**
   * The global model version the site holds after answering (the one it evaluated); absent when it keeps
   * none. The coordinator believes it only for the version it sent: a site claiming another gets weights.
   */
  heldModelVersion: ModelVersion.optional(),
  /**
   * The answer to `calibration` of the instruction: the asked inverse temperatures (echoed) and, at each, the
   * sums over the site's validation split of the NLL and its first and second derivatives in 1/T — never logits
   * or labels. Range-checked: the NLL and the curvature are ≥ 0, everything finite and bounded.
   */
  calibration: z
    .object({
      betas: InverseTemperatures,
      count: ExampleCount,
      stats: z.array(z.object({ nll: CalibrationSum.min(0), grad: CalibrationSum, hess: CalibrationSum.min(0) })).max(MAX_TEMPERATURE_QUERY),
    })
    .refine((c) => c.stats.length === c.betas.length, 'one calibration sum per inverse temperature')
    .refine((c) => c.count > 0 || c.stats.every((s) => s.nll === 0 && s.grad === 0 && s.hess === 0), 'calibration sums over no examples must be 0')
    .optional(),
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
  code: ErrorCode,
  reason: z.string().max(2000),
});

export const Rejection = z.object({
  runId: RunId.optional(),
  round: Round.optional(),
  code: ErrorCode,
  reason: z.string().max(2000),
});

export const RunComplete = z.object({
  runId: RunId,
  rounds: z.number().int().min(0),
  final: z.object({ accuracy: Metric, loss: Metric }).optional(),
  /**
   * Why the run stopped; clipped to at most 2000 characters rather than refused, so a long reason never makes
   * 'complete' fail its own schema (and a clipped reason parses to itself).
   */
  aborted: z
    .string()
    .transform((reason) => (reason.length <= 2000 ? reason : clipText(reason, 1950)))
    .optional(),
});

/** Most classes a data summary may count (its per-label array); most feature names it may carry. */
export const MAX_SUMMARY_CLASSES = 1000;
export const MAX_SUMMARY_FEATURE_NAMES = 256;

/**
 * A site's data check as COUNTS (docs/data.md#sharing-the-data-summary), sent once after joining, only when
 * the site agrees (`fedtune client --share-data-summary`, or its policy's data.shareSummary). Any other field
 * is dropped (as of every message), so no raw value rides along; feature names only when the site's policy allows them.
 */
export const SiteDataSummary = z
  .object({
    runId: RunId,
    siteId: SiteId,
    /** Examples the site joins with (after dropping duplicates). */
    examples: ExampleCount,
    duplicatesDropped: ExampleCount,
    /** Missing values filled by --impute (0 without it). */
    missingImputed: ExampleCount,
    constantFeatures: ExampleCount,
    /** Examples per class index. */
    labelCounts: z.array(ExampleCount).max(MAX_SUMMARY_CLASSES),
    /** The data's feature (column) names, only when the site's policy allows sharing them. */
    // Shown in report.html and the dashboard: no control characters (ANSI escapes, newlines) in a name.
    featureNames: z.array(z.string().min(1).max(128).refine((n) => !hasControlCharacters(n), 'a feature name has no control characters')).max(MAX_SUMMARY_FEATURE_NAMES).optional(),
  });

export type Hello = z.output<typeof Hello>;
export type Welcome = z.output<typeof Welcome>;
export type ModelTopology = z.output<typeof ModelTopology>;
export type TrainConfig = z.output<typeof TrainConfig>;
export type FitInstruction = z.output<typeof FitInstruction>;
export type SecureAggInstruction = z.output<typeof SecureAggInstruction>;
export type SecureAggAdvertise = z.output<typeof SecureAggAdvertise>;
export type SecureAggKeys = z.output<typeof SecureAggKeys>;
export type SecureAggShareKeys = z.output<typeof SecureAggShareKeys>;
export type SecureAggShares = z.output<typeof SecureAggShares>;
export type SecureAggMasked = z.output<typeof SecureAggMasked>;
export type SecureAggUnmask = z.output<typeof SecureAggUnmask>;
export type SecureAggUnmaskResponse = z.output<typeof SecureAggUnmaskResponse>;
export type FitResult = z.output<typeof FitResult>;
export type EvaluateInstruction = z.output<typeof EvaluateInstruction>;
export type EvaluateResult = z.output<typeof EvaluateResult>;
export type SiteFailure = z.output<typeof SiteFailure>;
export type Heartbeat = z.output<typeof Heartbeat>;
export type Rejection = z.output<typeof Rejection>;
export type RunComplete = z.output<typeof RunComplete>;
export type LocalMetrics = z.output<typeof LocalMetrics>;
export type SiteDataSummary = z.output<typeof SiteDataSummary>;
export type SitePrivacy = z.output<typeof SitePrivacy>;
export type FitResultMetrics = z.output<typeof FitResultMetrics>;
export type SiteLedgerTotals = z.output<typeof SiteLedgerTotals>;
