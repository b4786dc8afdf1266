import { z } from 'zod';
import { RobustnessReportSchema } from '../robustness/report-schema.ts';
import { TextRobustnessReportSchema } from '../robustness/text/text-robustness-report.ts';
import { SiteReportSection } from './site-report-section.ts';

/**
 * `runs/<run-id>/report.json`: one documented, versioned schema (docs/report.md). Written after every round.
 * Later features add optional sections; `schemaVersion` changes only when a field changes meaning.
 */
export const REPORT_SCHEMA_VERSION = 1;

const Metrics = z.object({ accuracy: z.number(), loss: z.number() });
/** Client-level DP state after a round: the (ε, δ) spent so far and the mechanism's parameters. */
export const PrivacyRecord = z.object({
  epsilon: z.number(),
  delta: z.number(),
  order: z.number().optional(),
  noiseMultiplier: z.number(),
  clip: z.number(),
  nextClip: z.number(),
  samplingRate: z.number(),
  /** Share of updates clipped this round; null when secure aggregation hides it. */
  clippedShare: z.number().nullable(),
  steps: z.number().int(),
  /** Who added the noise: the coordinator ('central') or the sites under secure aggregation ('distributed'). */
  noise: z.enum(['central', 'distributed']).optional(),
  /** Distributed: the configured z, the threshold t and the sites whose noise the sum carried (noiseMultiplier = z·sqrt(n'/t), less the rounding slack). */
  distributed: z.object({ configuredNoiseMultiplier: z.number(), threshold: z.number().int(), survivors: z.number().int() }).optional(),
});

/** Global-model metrics; `probes` holds extra measurements such as a backdoor's attack success rate. */
const GlobalMetrics = Metrics.extend({ probes: z.record(z.string(), z.number()).optional() });

export const RejectionRecord = z.object({
  siteId: z.string(),
  code: z.string(),
  reason: z.string(),
});

export const SiteEvaluation = z.object({
  siteId: z.string(),
  accuracy: z.number(),
  loss: z.number(),
  numExamples: z.number(),
});

export const RoundRecord = z.object({
  round: z.number().int(),
  durationMs: z.number(),
  attempts: z.number().int(),
  selected: z.array(z.string()),
  /** `epsilon`: the site's cumulative record-level DP-SGD ε (at its δ) after this round, when it trains with DP-SGD. */
  /** `ledger`: the site's privacy-ledger ε after this round, in this run and over all its runs (null = unbounded), when it keeps a ledger. */
  /** `effectiveExamples`: what the update weighed in the average when the example-weight cap lowered its claim. */
  accepted: z.array(
    z.object({ siteId: z.string(), numExamples: z.number(), effectiveExamples: z.number().optional(), loss: z.number(), accuracy: z.number(), durationMs: z.number(), epsilon: z.number().optional(), ledger: z.object({ runEpsilon: z.number().nullable(), totalEpsilon: z.number().nullable() }).optional() }),
  ),
  rejected: z.array(RejectionRecord),
  /** Refusals past the ones listed in `rejected` (at most MAX_ROUND_REJECTIONS per attempt): counted only. */
  rejectedNotListed: z.number().int().min(0).optional(),
  failed: z.array(z.object({ siteId: z.string(), reason: z.string() })),
  bytesDown: z.number(),
  bytesUp: z.number(),
  global: GlobalMetrics,
  federated: z
    .object({
      sites: z.array(SiteEvaluation),
      accuracy: z.number(),
      worstSite: z.object({ siteId: z.string(), accuracy: z.number() }).optional(),
      /** 10th-percentile and mean of the sites' accuracies. */
      p10: z.number().optional(),
      mean: z.number().optional(),
    })
    .optional(),
  privacy: PrivacyRecord.optional(),
  /** A compressed run (fp16/int8 updates): the mean bytes of an accepted update against raw float32 of the same model (update-codec.ts). */
  updateEncoding: z.object({ encoding: z.enum(['fp16', 'int8']), bytesPerUpdate: z.number(), float32BytesPerUpdate: z.number(), ratio: z.number() }).optional(),
  /**
   * A secure-aggregation round's unmasking: survivors whose revealed shares were found off their owners' polynomials
   * and left out (verified-recovery.ts; their own inputs are in the sum — the holder revealed a wrong value, or the
   * owner dealt it a wrong share), and survivors that sent no unmask response.
   */
  secureAggregation: z.object({ wrongShares: z.array(z.string()), silentInUnmasking: z.array(z.string()) }).optional(),
  /** The adaptive norm bound of this round (when on): the lower median of the update norms and the bound applied. */
  updateNorms: z.object({ median: z.number(), bound: z.number() }).optional(),
  /**
   * Present when the model adoption guard refused an aggregate: each refused attempt with its reason, and
   * whether the round finally adopted a new model (false: the previous model was kept for this round).
   */
  adoption: z.object({ adopted: z.boolean(), refusals: z.array(z.object({ attempt: z.number().int(), reason: z.string() })) }).optional(),
  /**
   * The final round only, under `averageRounds` > 1: the global model (its metrics, robustness and saved model)
   * is the mean of the models of this many last rounds (docs/robustness.md#weight-averaging).
   */
  averagedRounds: z.number().int().min(2).optional(),
  /**
   * Joined sites this round did not sample: they gave no answer in an earlier round and sit out a cooldown
   * (stragglers.maxCooldownRounds; docs/operations.md#sites-that-do-not-answer). `sites` lists at most 50 of them.
   */
  cooling: z.object({ count: z.number().int().min(1), sites: z.array(z.string()) }).optional(),
  /**
   * Joined sites this round did not sample: the quorum wait (stragglers.waitAfterQuorumMs) closed an earlier round
   * before they answered, and they are still busy with that fit (until they answer or its deadline passes).
   * `sites` lists at most 50 of them.
   */
  busy: z.object({ count: z.number().int().min(1), sites: z.array(z.string()) }).optional(),
  /** Robustness of the new global model on the coordinator's holdout (when scheduled; docs/robustness.md). */
  robustness: RobustnessReportSchema.optional(),
  modelDir: z.string(),
});

export const RunReport = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  runId: z.string(),
  status: z.enum(['waiting', 'running', 'complete', 'aborted']),
  startedAt: z.string(),
  updatedAt: z.string(),
  config: z.record(z.string(), z.unknown()),
  backend: z.string(),
  model: z.object({ architecture: z.string(), parameters: z.number() }),
  /** The starting model on the holdout; absent until measured. */
  pretrained: Metrics.optional(),
  rounds: z.array(RoundRecord),
  final: GlobalMetrics.extend({ modelDir: z.string(), round: z.number().int() }).optional(),
  /** Set by `fedtune simulate`: how the federation was built (partition, attack, malicious sites). */
  simulation: z.record(z.string(), z.unknown()).optional(),
  aborted: z.string().optional(),
  /**
   * The typed code (FedtuneErrorCode) of the error that aborted the run — `timeout` (too few sites joined in time),
   * `quorum_not_met`, `persistence`, … — for machines; absent when the run completed or was stopped.
   */
  abortedCode: z.string().max(64).optional(),
  /** The privacy spent by the whole run so far (the last round's `privacy`). */
  privacy: PrivacyRecord.optional(),
  /** Robustness of the final global model (the last round's `robustness`). */
  finalRobustness: RobustnessReportSchema.optional(),
  /** Text tasks: robustness of the final model to text corruptions (and word substitution) on the holdout texts. */
  textRobustness: TextRobustnessReportSchema.optional(),
  /** Per site after the final round: pretrained, local-only, global and personalised models on each site's test split. */
  siteReport: SiteReportSection.optional(),
  /** When the run was resumed from a checkpoint (ISO timestamps). */
  resumedAt: z.array(z.string()).optional(),
  /** The run's signed terms (docs/site-policy.md): their hash and the coordinator identity that signed them. */
  terms: z.object({ hash: z.string(), coordinator: z.string() }).optional(),
  /** Sites whose policy refused the terms (the first 100, reasons clipped), and how many refused in all. */
  termsRefusals: z.object({ total: z.number().int(), sites: z.array(z.object({ siteId: z.string(), reason: z.string(), at: z.string() })) }).optional(),
  /**
   * The data summaries sites agreed to share (docs/data.md#sharing-the-data-summary): counts only, the first
   * 100 sites listed, totals over all of them.
   */
  dataSummaries: z
    .object({
      total: z.object({ sites: z.number().int(), examples: z.number(), duplicatesDropped: z.number(), missingImputed: z.number(), constantFeatures: z.number(), labelCounts: z.array(z.number()) }),
      sites: z.array(z.object({ siteId: z.string(), examples: z.number(), duplicatesDropped: z.number(), missingImputed: z.number(), constantFeatures: z.number(), labelCounts: z.array(z.number()), featureNames: z.array(z.string()).optional() })),
      /** The other sites counted in the totals, past the listed ones: a resumed run refuses their second summary too. */
      unlisted: z.array(z.string()).optional(),
    })
    .optional(),
  /** The head of the run's audit log when this report was written: its entry count and last hash (docs/audit.md). */
  audit: z.object({ count: z.number().int().min(0), head: z.string() }).optional(),
});

export type RoundRecord = z.infer<typeof RoundRecord>;
export type RunReport = z.infer<typeof RunReport>;
export type RejectionRecord = z.infer<typeof RejectionRecord>;
export type SiteEvaluation = z.infer<typeof SiteEvaluation>;
