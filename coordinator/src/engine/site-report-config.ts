import { z } from 'zod';
import { MAX_PERSONALIZATION_FOLDS, MAX_SITE_ROBUSTNESS_POINTS, PERSONALIZATION_GUARDS, PERSONALIZATION_MODES, PERSONALIZATION_SELECTIONS } from '@fedtune/shared';

/**
 * Personalised fine-tuning after the final round (docs/robustness.md#personalized-fine-tuning): each site
 * personalises its own copy of the global model and keeps it; the report compares it with the pretrained,
 * global and local-only models on every site's own test split.
 */
export const PersonalizationConfig = z.object({
  mode: z.enum(PERSONALIZATION_MODES).default('none'),
  /** Local epochs of the personalisation. */
  epochs: z.number().int().min(1).max(1000).default(5),
  /** Ditto's λ in (λ/2)‖v − w_global‖² ('ditto' only). */
  lambda: z.number().min(0).max(100).default(0.1),
  /** Learning rate of the personalisation (default: the run's train.learningRate). */
  learningRate: z.number().positive().max(10).optional(),
  /** Keep the personalised model only if its validation loss is no worse than the global model's. */
  validate: z.boolean().default(true),
  /** Also train the local-only baseline (rounds × train.epochs from the pretrained model, on the site's data alone). */
  localOnly: z.boolean().default(true),
  /** Mode 'auto': never choose a candidate less robust than the global model on the site's validation split under this attack (PGD-5, FGSM, or off). */
  guard: z.enum(PERSONALIZATION_GUARDS).default('pgd'),
  /** The guard's ε (absolute input units). */
  guardEps: z.number().min(0).max(1).default(0.05),
  /** Mode 'auto': score candidates on the site's validation split ('holdout') or by stratified k-fold cross-validation over its train ∪ validation data, then refit the chosen one on all of it ('kfold'). */
  selection: z.enum(PERSONALIZATION_SELECTIONS).default('kfold'),
  /** Mode 'auto', selection 'kfold': the number of stratified folds. */
  folds: z.number().int().min(2).max(MAX_PERSONALIZATION_FOLDS).default(5),
  /** Mode 'auto': prefer the global model (then the local-only one) unless a candidate beats it by more than this many paired standard errors on validation (0: highest accuracy wins). */
  selectionMargin: z.number().min(0).max(10).default(1),
});
export type PersonalizationConfig = z.output<typeof PersonalizationConfig>;

/** Robustness of the final global (and personalised) model on every site's own test split, sent as aggregates. */
export const SiteRobustnessConfig = z.object({
  when: z.enum(['never', 'final']).default('never'),
  examples: z.number().int().min(1).max(100_000).default(200),
  adversarialExamples: z.number().int().min(0).max(100_000).default(100),
  noiseSigmas: z.array(z.number().min(0).max(1)).max(MAX_SITE_ROBUSTNESS_POINTS).default([0.1, 0.3]),
  corruptions: z.boolean().default(true),
  pgdEps: z.array(z.number().min(0).max(1)).max(MAX_SITE_ROBUSTNESS_POINTS).default([0.05, 0.1]),
  pgdSteps: z.number().int().min(1).max(1000).default(20),
});
export type SiteRobustnessConfig = z.output<typeof SiteRobustnessConfig>;
