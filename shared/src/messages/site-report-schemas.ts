import { z } from 'zod';
import { Bytes, MAX_REPORTED_EXAMPLES, MAX_REPORTED_LOSS, TrainConfig } from './schemas.ts';

/**
 * The per-site report after the final round (docs/robustness.md#personalized-fine-tuning-and-per-site-robustness):
 * the coordinator sends 'siteReport', each site evaluates the pretrained and the global model on its own test
 * split, optionally personalises its own copy of the global model (which it keeps) and trains a local-only
 * baseline, and answers 'siteReportResult' with aggregates only — never weights, never samples.
 */

export const PERSONALIZATION_MODES = ['none', 'head', 'lp-ft', 'fedbn', 'ditto', 'auto'] as const;
export type PersonalizationMode = (typeof PERSONALIZATION_MODES)[number];

/**
 * What mode 'auto' chooses among on the site's validation split: the global model, head-only, all layers, a
 * mix of the global and all-layers weights, Ditto's proximal fine-tune, the site's local-only model
 * (trained from the pretrained model on its data alone; present when the run trains that baseline) and the
 * half-and-half mix of the local-only and global weights (both fine-tuned from the same pretrained model).
 */
export const AUTO_CANDIDATES = ['global', 'head', 'full', 'mix-0.25', 'mix-0.5', 'mix-0.75', 'ditto', 'local-only', 'local-mix-0.5'] as const;
export type AutoCandidate = (typeof AUTO_CANDIDATES)[number];

/** Mode 'auto''s robustness guard on validation: PGD-5 or FGSM at `guardEps`, or none. */
export const PERSONALIZATION_GUARDS = ['pgd', 'fgsm', 'off'] as const;
export type PersonalizationGuard = (typeof PERSONALIZATION_GUARDS)[number];

/** Mode 'auto''s validation estimate: the site's validation split, or stratified k-fold cross-validation over its train ∪ validation data. */
export const PERSONALIZATION_SELECTIONS = ['holdout', 'kfold'] as const;
export type PersonalizationSelection = (typeof PERSONALIZATION_SELECTIONS)[number];

/** Most folds of mode 'auto''s cross-validation (bounds the work a run can ask of a site). */
export const MAX_PERSONALIZATION_FOLDS = 10;

/** Most noise σ / PGD ε values a site report carries (bounds both the work asked of a site and its answer). */
export const MAX_SITE_ROBUSTNESS_POINTS = 4;

const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/);
const RunId = z.string().min(1).max(128);
const Round = z.number().int().min(0);
const Fraction = z.number().min(0).max(1);

/** How a site personalises its copy of the final global model. */
export const PersonalizationSettings = z.object({
  /** 'head': fine-tune the last layer only; 'lp-ft': the last layer, then every layer; 'fedbn': only the BatchNorm layers (and their statistics); 'ditto': all layers with (λ/2)‖v − w_global‖²; 'auto': the best on validation of the global model, head-only, all layers and their mixes. */
  mode: z.enum(PERSONALIZATION_MODES),
  /** Local epochs of the personalisation. */
  epochs: z.number().int().min(1).max(1000),
  /** Ditto's λ (other modes ignore it). */
  lambda: z.number().min(0).max(100),
  /** Learning rate of the personalisation (default: the run's). */
  learningRate: z.number().positive().max(10).optional(),
  /**
   * Keep the personalised model only if its loss on the site's validation split is no worse than the global
   * model's (else the site keeps the global weights as its personal model, and reports adopted: false).
   */
  validate: z.boolean(),
  /** Mode 'auto': a candidate less robust than the global model on validation under this attack is never chosen (absent: 'off'). */
  guard: z.enum(PERSONALIZATION_GUARDS).optional(),
  /** The guard's ε (absolute input units). */
  guardEps: z.number().min(0).max(1).optional(),
  /** Mode 'auto': how candidates are scored (absent: 'holdout', the site's validation split). */
  selection: z.enum(PERSONALIZATION_SELECTIONS).optional(),
  /** Mode 'auto' with selection 'kfold': the number of stratified folds (absent: 5). */
  folds: z.number().int().min(2).max(MAX_PERSONALIZATION_FOLDS).optional(),
  /** Mode 'auto': a candidate replaces a more preferred one (the global model first) only if it wins by more than this many paired standard errors (absent: 0). */
  selectionMargin: z.number().min(0).max(10).optional(),
});
export type PersonalizationSettings = z.output<typeof PersonalizationSettings>;

/** What robustness a site measures on its own test split: a compact, bounded summary. */
export const SiteRobustnessSettings = z.object({
  /** Test examples evaluated (a seeded sample; all if fewer). */
  examples: z.number().int().min(1).max(100_000),
  /** The first this-many are attacked. */
  adversarialExamples: z.number().int().min(0).max(100_000),
  noiseSigmas: z.array(z.number().min(0).max(1)).max(MAX_SITE_ROBUSTNESS_POINTS),
  corruptions: z.boolean(),
  pgdEps: z.array(z.number().min(0).max(1)).max(MAX_SITE_ROBUSTNESS_POINTS),
  pgdSteps: z.number().int().min(1).max(1000),
  seed: z.number().int().min(0),
});
export type SiteRobustnessSettings = z.output<typeof SiteRobustnessSettings>;

/**
 * What the per-site report after the final round will ask of a site (run-terms.ts: the terms' `siteReport`):
 * its personalisation, local-only baseline and robustness settings, seeds aside. The site sees them before it
 * joins, and a 'siteReport' instruction that asks anything else is refused as changed terms.
 */
export const SiteReportTerms = z
  .object({
    personalization: PersonalizationSettings.strict().optional(),
    localOnlyEpochs: z.number().int().min(1).max(100_000).optional(),
    robustness: SiteRobustnessSettings.omit({ seed: true }).strict().optional(),
  })
  .strict();
export type SiteReportTerms = z.output<typeof SiteReportTerms>;

/** coordinator → site, once after the final round. */
export const SiteReportInstruction = z.object({
  runId: RunId,
  round: Round,
  modelVersion: z.number().int().min(0),
  /** The final global model. */
  weights: Bytes,
  /** The pretrained model the run started from (the 'pretrained' arm, and the local-only baseline's start). */
  pretrained: Bytes.optional(),
  /** The run's training settings (batch size, optimizer, robust options) the personalisation and the baseline reuse. */
  train: TrainConfig,
  personalization: PersonalizationSettings.optional(),
  /** Train the local-only baseline: this many epochs from the pretrained model on the site's data alone. */
  localOnlyEpochs: z.number().int().min(1).max(100_000).optional(),
  robustness: SiteRobustnessSettings.optional(),
});

/** A model's robustness on a site's test split: mean accuracy under noise and corruptions, PGD accuracy per ε. */
export const SiteRobustnessSummary = z.object({
  noiseMean: Fraction.nullable(),
  corruptionMean: Fraction.nullable(),
  pgd: z.array(z.object({ eps: z.number().min(0).max(1), accuracy: Fraction })).max(MAX_SITE_ROBUSTNESS_POINTS),
});
export type SiteRobustnessSummary = z.output<typeof SiteRobustnessSummary>;

/** One model ("arm") on a site's test split. */
export const SiteArmMetrics = z.object({
  accuracy: Fraction,
  loss: z.number().min(0).max(MAX_REPORTED_LOSS),
  robust: SiteRobustnessSummary.optional(),
});
export type SiteArmMetrics = z.output<typeof SiteArmMetrics>;

/** Mode 'auto': one candidate's scores on the site's validation split (aggregates only). */
export const CandidateValidation = z.object({
  candidate: z.enum(AUTO_CANDIDATES),
  accuracy: Fraction,
  loss: z.number().min(0).max(MAX_REPORTED_LOSS),
  /** Accuracy under the guard's attack (absent: guard off). */
  robustAccuracy: Fraction.optional(),
});
export type CandidateValidation = z.output<typeof CandidateValidation>;

/**
 * The personalised model against another arm on the same test examples (aggregates only): `wins` examples
 * only the personalised model classifies right, `losses` examples only the other one does. With the test
 * split's size they give the paired difference and its standard error (pairedComparisonStats), so a reader can
 * tell a real gain from the noise of a small split.
 */
export const PairedCounts = z.object({
  wins: z.number().int().min(0).max(MAX_REPORTED_EXAMPLES),
  losses: z.number().int().min(0).max(MAX_REPORTED_EXAMPLES),
});
export type PairedCounts = z.output<typeof PairedCounts>;

export const SITE_ARMS = ['pretrained', 'localOnly', 'global', 'personalized'] as const;
export type SiteArm = (typeof SITE_ARMS)[number];

/** site → coordinator: aggregates only. */
export const SiteReportResult = z.object({
  runId: RunId,
  round: Round,
  siteId: SiteId,
  /** Test examples the clean metrics are over. */
  numExamples: z.number().int().min(0).max(MAX_REPORTED_EXAMPLES),
  arms: z.object({
    pretrained: SiteArmMetrics.optional(),
    localOnly: SiteArmMetrics.optional(),
    global: SiteArmMetrics,
    personalized: SiteArmMetrics.optional(),
  }),
  /** Whether the site kept the personalised weights (false: validation preferred the global model). */
  adopted: z.boolean().optional(),
  /** Mode 'auto': the candidate the site kept. */
  chosen: z.enum(AUTO_CANDIDATES).optional(),
  /** Mode 'auto': every candidate's validation scores, in the order tried (one per candidate at most). */
  candidates: z.array(CandidateValidation).max(AUTO_CANDIDATES.length).optional(),
  /** The personalised model against the local-only and the global model, example by example on the test split. */
  comparisons: z.object({ localOnly: PairedCounts.optional(), global: PairedCounts.optional() }).optional(),
  durationMs: z.number().min(0).max(86_400_000),
}).superRefine((r, ctx) => {
  // Wins and losses are examples of the test split: together never more than it has.
  for (const [arm, c] of Object.entries(r.comparisons ?? {})) {
    if (c && c.wins + c.losses > r.numExamples) ctx.addIssue({ code: 'custom', path: ['comparisons', arm], message: `${c.wins} wins and ${c.losses} losses are more than the ${r.numExamples} test examples` });
  }
});

export type SiteReportInstruction = z.output<typeof SiteReportInstruction>;
export type SiteReportResult = z.output<typeof SiteReportResult>;
