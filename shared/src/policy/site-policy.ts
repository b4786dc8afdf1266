import { z } from 'zod';

/**
 * What a site consents to (docs/site-policy.md): `fedtune client --policy site-policy.yaml`, and the same
 * object in the browser site. At join the site checks the run's terms (run-terms.ts) against it and refuses
 * with a clear reason, or joins; every instruction is checked again on arrival. Every field is optional: an
 * absent limit is no limit, except model inspection, which refuses known trap constructions by default.
 */
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha-256 hash as 64 lowercase hex digits');
const Ed25519PublicKeyHex = z.string().regex(/^[0-9a-f]{64}$/, 'expected an Ed25519 public key as 64 lowercase hex digits');
const Epsilon = z.number().positive().max(1e6);

export const ModelInspectionPolicy = z
  .object({
    /** What a model with a finding does: refused (default), joined with a warning, or not inspected. */
    action: z.enum(['refuse', 'warn', 'off']).default('refuse'),
    /** Finding codes this site accepts anyway (e.g. a legitimately wide first layer). */
    allow: z.array(z.string().max(64)).max(32).default([]),
  })
  .strict();
export type ModelInspectionPolicy = z.output<typeof ModelInspectionPolicy>;

export const SitePolicy = z
  .object({
    /** Coordinator identities (Ed25519 public keys, hex) this site accepts signed terms from; absent = any coordinator. */
    coordinators: z.array(Ed25519PublicKeyHex).min(1).max(64).optional(),
    model: z
      .object({
        /** Allowed architectures by name (the terms' model.architecture); absent = any. */
        architectures: z.array(z.string().min(1).max(64)).min(1).max(64).optional(),
        /** Pinned model hashes: the terms' model.topologyHash must be one of them; absent = any. */
        hashes: z.array(Sha256Hex).min(1).max(64).optional(),
        /**
         * Most parameters the model may have (the terms' model.parameters, checked before the model is built; the
         * built model is checked again). The default, 2^25 (33,554,432: 128 MB of float32 weights, each update as
         * much again), is ~80× the largest built-in architecture and room for a MobileNet-sized model of one's own;
         * without it a coordinator could name a model that takes gigabytes to build.
         */
        maxParameters: z.number().int().min(1).default(33_554_432),
        /**
         * Most values the model's layers may output for one example, summed over the layers (its activations,
         * float32: 4 bytes each; model/activations-per-example.ts). A model past it is refused when it arrives,
         * before any training: a topology of a few weights can make gigabytes of activations. The default, 2^18
         * (1 MB per example), is 10× the largest built-in architecture's (cnn-bn: 24,194) and keeps an evaluation
         * batch (500 examples) within 512 MB of activations.
         */
        maxActivationsPerExample: z.number().int().min(1).default(262_144),
        inspection: ModelInspectionPolicy.prefault({}),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        maxRounds: z.number().int().min(1).optional(),
        maxEpochs: z.number().int().min(1).optional(),
        /** Most examples of this site used in one round (the site trains on at most this many). */
        maxExamplesPerRound: z.number().int().min(1).optional(),
      })
      .strict()
      .prefault({}),
    aggregation: z
      .object({
        /** Contribute only through secure aggregation (the coordinator never sees this site's update). */
        requireSecureAggregation: z.boolean().default(false),
        /** Fewest sites in any aggregate this site contributes to (secure-aggregation rounds: the invited sites; else the run's minimum). */
        minSites: z.number().int().min(1).default(1),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /**
         * Required differential privacy: 'none'; 'record' (DP-SGD at the site); 'client' (DP-FedAvg on the
         * aggregate; `distributedNoise` when the sites must add the noise themselves under secure aggregation);
         * 'any' (either).
         */
        require: z.enum(['none', 'record', 'client', 'any']).default('none'),
        /** Client-level DP: the smallest noise multiplier z accepted. */
        minNoiseMultiplier: z.number().min(0).optional(),
        /** Client-level DP under secure aggregation: the noise must be added by the sites (the coordinator never holds noise-free sums). */
        requireDistributedNoise: z.boolean().default(false),
        /** Largest δ accepted. */
        maxDelta: z.number().gt(0).lt(1).optional(),
        /** ε this site may spend in one run, and in total over all runs (the privacy ledger keeps the count). */
        maxEpsilonPerRun: Epsilon.optional(),
        maxEpsilonTotal: Epsilon.optional(),
        /**
         * Fewest examples any metric this site reports may cover (training loss and accuracy, evaluation, the
         * per-site report's robustness). A metric over one example is that example in disguise: with crafted
         * weights its loss reveals a feature or the label, past secure aggregation and DP. Terms that could make
         * the site report over fewer (train.maxExamples, the report's robustness examples) are refused at join and
         * on every instruction (docs/site-policy.md). The site's own splits are its choice and not judged by it.
         */
        minExamplesPerMetric: z.number().int().min(1).default(20),
      })
      .strict()
      .prefault({}),
    /** What the site tells the coordinator about its data (docs/data.md#sharing-the-data-summary); nothing by default. */
    data: z
      .object({
        /** Send the data check's counts (examples, duplicates dropped, missing imputed, per-label counts, constant features) once after joining. */
        shareSummary: z.boolean().default(false),
        /** With the summary, the data's feature (column) names. */
        shareFeatureNames: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    // The site's own cap on examples per round bounds its training metrics too: never below the metric bound.
    const cap = p.training.maxExamplesPerRound;
    const min = p.privacy.minExamplesPerMetric;
    if (cap !== undefined && cap < min) ctx.addIssue({ code: 'custom', path: ['training', 'maxExamplesPerRound'], message: `${cap} is below privacy.minExamplesPerMetric ${min}: the training metrics of every round would cover that few examples (lower privacy.minExamplesPerMetric to allow it)` });
  });
export type SitePolicy = z.output<typeof SitePolicy>;
export type SitePolicyInput = z.input<typeof SitePolicy>;

/** The policy of a site that set none: no limits, model inspection on (refuses known trap constructions). */
export const DEFAULT_SITE_POLICY: SitePolicy = SitePolicy.parse({});
