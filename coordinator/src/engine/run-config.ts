import { z } from 'zod';
import { RobustnessEvaluationConfig, RunClassNames, TrainConfig } from '@fedtune/shared';
import { DpConfig } from './dp-aggregation.ts';
import { SecureAggregationConfig } from './secure-aggregation-round.ts';
import { PersonalizationConfig, SiteRobustnessConfig } from './site-report-config.ts';

/** A run's configuration, validated with clear messages. Every field has a default. */
/**
 * How a fit or evaluate instruction carries the global model (model-delivery.ts, docs/operations.md#model-delivery-over-http):
 * 'socket' the bytes in the instruction; 'http' a ModelRef the site GETs from /api/v1/models/:version/weights. Here, not in
 * model-delivery.ts, so that a site's CLI (which parses run configs) never loads the coordinator's delivery code.
 */
export const ModelDelivery = z.enum(['socket', 'http']);
export type ModelDelivery = z.output<typeof ModelDelivery>;

export const StragglerConfig = z.object({
  /**
   * Once a round has accepted its quorum of results, wait at most this long for the other selected sites, then
   * close it without them (their late results are refused as stale). Absent: wait for every selected site until
   * roundTimeoutMs. Plain rounds only (a secure-aggregation round has its own phase deadlines).
   */
  waitAfterQuorumMs: z.number().int().min(0).optional(),
  /**
   * A selected site that gave no answer by its round's deadline (roundTimeoutMs; not a site the quorum wait cut
   * off) is not sampled (for training or federated evaluation) for the next 1, 2, 4, … rounds, doubling with each
   * miss in a row, at most this many; an accepted update ends it (unresponsive-sites.ts). 0 turns it off.
   */
  maxCooldownRounds: z.number().int().min(0).default(8),
});

export const RunConfig = z.object({
  runId: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/),
  rounds: z.number().int().min(1).default(10),
  /** The run starts once this many sites have joined. */
  minSites: z.number().int().min(1).default(2),
  /** Share of connected sites sampled for each round. */
  fraction: z.number().gt(0).max(1).default(1),
  /** Share of the selected sites whose results must be accepted for the round to count. */
  quorum: z.number().gt(0).max(1).default(0.5),
  roundTimeoutMs: z.number().int().min(1).default(300_000),
  /** Sites that do not answer (docs/operations.md#sites-that-do-not-answer): when a round stops waiting, and who sits rounds out. */
  stragglers: StragglerConfig.prefault({}),
  /** How long to wait for `minSites` (0 = forever). */
  joinTimeoutMs: z.number().int().min(0).default(0),
  maxRoundAttempts: z.number().int().min(1).default(3),
  /** Before each round, how long to wait for sites to (re)join while fewer than `minSites` are connected (0: no wait). */
  rejoinGraceMs: z.number().int().min(0).default(10_000),
  seed: z.number().int().min(0).default(42),
  strategy: z.string().default('fedavg'),
  /** Options of the strategy (see its file in shared/src/strategies); unknown keys are rejected by the strategy. */
  strategyOptions: z.record(z.string(), z.unknown()).default({}),
  /**
   * How many of the sites may be malicious. Strategies that tolerate a number of byzantine sites (Krum,
   * Multi-Krum, Bulyan: option f) take it when their own option is not given.
   */
  expectedMaliciousSites: z.number().int().min(0).optional(),
  /** Reject updates whose distance from the global model (L2 norm of the delta) exceeds this. */
  maxUpdateNorm: z.number().positive().optional(),
  // Poisoning-safe defaults (update-guard.ts, model-adoption.ts; docs/robustness.md#poisoning-safe-defaults).
  /**
   * Adaptive norm bound: an update whose delta norm exceeds this multiple of the round's (lower) median
   * delta norm — or of the previous round's, whichever is larger — is refused ('update_norm'). 0 turns it off.
   * Not applied under DP (the clip bounds updates) or secure aggregation (norms are hidden; sites clip).
   */
  normBoundMultiple: z.number().min(0).default(5),
  /**
   * Bounded weight in the average: a site's example count counts for at most this multiple of the (lower)
   * median count the round's selected sites announced at hello. 0 turns the cap off. Also bounds a site's count
   * in the federated evaluation and its sums in a federated temperature fit. Not applied to the training average
   * under DP (sites count equally) or secure aggregation, nor by strategies that ignore counts
   * (Strategy.ignoresExampleCounts); set where it bounds nothing at all, it is refused (coordinator/src/config/inactive-run-config.ts).
   */
  exampleWeightCap: z.number().min(0).default(4),
  /**
   * Model adoption guard: a new global model whose holdout accuracy falls more than this (absolute) below the
   * current model's is not adopted (a non-finite model never is). 1 turns the accuracy check off.
   */
  maxAccuracyDrop: z.number().min(0).max(1).default(0.2),
  /**
   * Model adoption guard against slow drift: a new global model whose holdout accuracy falls more than this
   * (absolute) below the best model of the run's rounds is not adopted unless its holdout loss is lower than that
   * model's (the pretrained model is not counted: first rounds may dip below it). 1 turns it off.
   */
  maxAccuracyDropFromBest: z.number().min(0).max(1).default(0.05),
  train: TrainConfig.omit({ seed: true }).default({ epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all' }),
  /**
   * The final model is the mean of the global models of the run's last `averageRounds` rounds (stochastic weight
   * averaging over rounds, tail-average.ts; docs/robustness.md#weight-averaging); 1 = the last round's model.
   * Sites still train from each round's own aggregate: only the model the run ends with is averaged.
   */
  averageRounds: z.number().int().min(1).default(1),
  federatedEvaluation: z.enum(['never', 'final', 'every-round']).default('final'),
  /**
   * Federated evaluation asks a seeded sample of ceil(evaluationFraction × joined) sites (at least one), at
   * most `maxEvaluationSites` of them (0 = no cap): at 1,000 sites it need not send the model to every one.
   */
  evaluationFraction: z.number().gt(0).max(1).default(1),
  maxEvaluationSites: z.number().int().min(0).default(0),
  /**
   * Whether sites keep the model between instructions. true: a site that evaluated a model version keeps it,
   * and the next instruction for that version carries no weights. false (cross-device): every instruction
   * asks the site to drop its model once it has answered, so a host of many sites holds only the working ones.
   */
  sitesKeepModel: z.boolean().default(true),
  /**
   * How instructions carry the global model: 'socket' (the bytes in the instruction) or 'http' (its version and
   * sha-256; sites GET /api/v1/models/:version/weights, which a CDN or reverse proxy may cache; model-delivery.ts).
   */
  modelDelivery: ModelDelivery.default('socket'),
  /** Robustness evaluation of the global model on the holdout: when (every-round | final | never | every k rounds) and how much. */
  robustness: RobustnessEvaluationConfig.default({ when: 'final' }),
  /** Personalised fine-tuning of every site's own copy after the final round (site-report-config.ts). */
  personalization: PersonalizationConfig.prefault({}),
  /** Robustness on every site's own test split after the final round (site-report-config.ts). */
  siteRobustness: SiteRobustnessConfig.prefault({}),
  /**
   * Temperature scaling of the global model wherever its robustness is evaluated (docs/robustness.md#calibration):
   * fitted on the coordinator's holdout, on the sites' validation splits (federated: they send only NLL sums), or off.
   */
  calibration: z.object({ source: z.enum(['holdout', 'federated', 'off']).default('holdout') }).default({ source: 'holdout' }),
  /** Client-level differential privacy (DP-FedAvg with an RDP accountant); needs strategy fedavg. */
  dp: DpConfig.optional(),
  /** Secure aggregation: the coordinator learns only the sum of the sites' clipped deltas; needs strategy fedavg. */
  secureAggregation: SecureAggregationConfig.optional(),
  /** Run-wide cap on the examples a site may claim for one update (it may also claim no more than it announced at hello). */
  maxExamplesPerSite: z.number().int().min(1).default(1_000_000),
  /**
   * The run's class names, index → name (`--class-names`; default: the pretrained model's metadata classNames,
   * if any). Sent in the terms and the 'model' message: sites number their named labels by it.
   */
  classNames: RunClassNames.optional(),
  /** Largest update payload accepted, in bytes. */
  maxUpdateBytes: z.number().int().min(1).default(256 * 1024 * 1024),
});

export type RunConfig = z.output<typeof RunConfig>;
export type RunConfigInput = z.input<typeof RunConfig>;
