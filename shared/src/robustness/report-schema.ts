import { z } from 'zod';
import { CalibrationReportSchema } from './calibration/calibration-report.ts';
import { CertificationReportSchema } from './certification/certification-report.ts';
import { ReliabilityBinSchema } from './reliability-bin-schema.ts';
import { TextAttackRowSchema } from './text/text-attack-report.ts';
import { ATTACK_LOSSES } from './attacks/attack-loss.ts';
import { WORST_CASE_ATTACKS } from './worst-case-rows.ts';
import { EvaluatedDataSchema, EvaluatedModelSchema } from './evaluated-inputs.ts';

/**
 * The robustness section of a report: the output of `evaluateRobustness`, the JSON of `fedtune evaluate`,
 * and a round's `robustness` in report.json. `schemaVersion` changes only when a field changes meaning.
 */
export const ROBUSTNESS_SCHEMA_VERSION = 1;

const Fraction = z.number().min(0).max(1);
const AttackLossSchema = z.enum(ATTACK_LOSSES);
/** With more than one attack loss: the accuracy after each loss's attack (cumulative, so non-increasing; the last is the row's accuracy). */
const ByLoss = z.array(z.object({ loss: AttackLossSchema, accuracy: Fraction })).min(2).max(ATTACK_LOSSES.length).optional();

export { ReliabilityBinSchema };

export const CleanMetricsSchema = z.object({
  accuracy: Fraction,
  loss: z.number(),
  macroF1: Fraction,
  /** Expected calibration error with `reliability.length` (15) equal-width confidence bins. */
  ece: z.number().min(0),
  perClass: z.array(z.object({ precision: Fraction, recall: Fraction, f1: Fraction, support: z.number().int().min(0) })),
  /** confusion[true][predicted]. */
  confusion: z.array(z.array(z.number().int().min(0))),
  worstClass: z.object({ label: z.number().int(), accuracy: Fraction }),
  reliability: z.array(ReliabilityBinSchema),
});

export const RobustnessReportSchema = z.object({
  schemaVersion: z.literal(ROBUSTNESS_SCHEMA_VERSION),
  /** Examples evaluated (clean, noise, corruptions). */
  examples: z.number().int().min(0),
  /** The first `adversarialExamples` of those are attacked. */
  adversarialExamples: z.number().int().min(0),
  inputKind: z.enum(['image', 'tabular']),
  /** Units of the FGSM/PGD ε and step size: absolute input units, or each feature's standard deviation (optional: absent in reports before it existed, which were absolute). */
  epsUnits: z.enum(['absolute', 'feature-std', 'data-std']).optional(),
  /** Absolute input units per unit of ε: 1 (absolute), the data's pixel standard deviation (data-std), the mean feature standard deviation (feature-std). */
  epsScale: z.number().min(0).optional(),
  /** The task's headline ε in `epsUnits` (its row's `epsAbsolute` is the absolute one), always among the FGSM and PGD rows (the built-in task: digitsHeadlineEps). */
  headlineEps: z.number().min(0).optional(),
  seed: z.number().int(),
  clean: CleanMetricsSchema,
  noise: z.array(z.object({ sigma: z.number(), accuracy: Fraction })),
  corruptions: z.array(z.object({ name: z.string(), severity: z.number(), accuracy: Fraction })),
  /** Mean accuracy over `corruptions` (null when none ran). */
  corruptionMean: Fraction.nullable(),
  worstCorruption: z.object({ name: z.string(), accuracy: Fraction }).nullable(),
  /** Clean accuracy of the attacked subset (what the ε = 0 check compares against). */
  adversarialCleanAccuracy: Fraction.nullable(),
  /**
   * Share of the attacked examples on which the softmax cross-entropy is saturated: the true class's probability
   * rounds to 1 in float32, so the loss's gradient there is what rounding left (self-checks.ts). Absent without
   * attacks (and in reports written before it existed).
   */
  saturatedShare: Fraction.optional(),
  /** `epsAbsolute`: the row's ε in absolute input units (ε × epsScale). */
  /** The losses each attack ascended, in order (evaluate-robustness.ts, `attackLosses`); a row's accuracy is the worst case over them. */
  attackLosses: z.array(AttackLossSchema).min(1).max(ATTACK_LOSSES.length).optional(),
  fgsm: z.array(z.object({ eps: z.number(), epsAbsolute: z.number().optional(), accuracy: Fraction, byLoss: ByLoss })),
  pgd: z.array(z.object({ eps: z.number(), epsAbsolute: z.number().optional(), steps: z.number().int(), stepSize: z.number(), accuracy: Fraction, byLoss: ByLoss })),
  /** PGD in the L2 norm (normalised-gradient steps, L2-ball projection), when asked for; ε is an L2 radius in `epsUnits`. */
  pgdL2: z.array(z.object({ eps: z.number(), epsAbsolute: z.number().optional(), steps: z.number().int(), stepSize: z.number(), accuracy: Fraction, byLoss: ByLoss })).optional(),
  /**
   * The Square Attack (L∞, black-box: model outputs only, no gradients), when asked for: the accuracy left after
   * at most `queries` queries per example, and the mean queries spent. A black-box attack that beats PGD is a
   * sign of gradient masking (self-checks.ts).
   */
  square: z.array(z.object({ eps: z.number(), epsAbsolute: z.number().optional(), queries: z.number().int(), pInit: z.number(), meanQueries: z.number(), accuracy: Fraction })).optional(),
  /**
   * The per-example worst case over the L∞ attacks run at the same ε (FGSM, PGD, Square; worst-case-rows.ts): the
   * share of attacked examples that none of them fooled, as AutoAttack reports robust accuracy. One row per ε at
   * which two or more of them ran; never above any of those attacks' rows.
   */
  worstCase: z.array(z.object({ eps: z.number(), epsAbsolute: z.number().optional(), attacks: z.array(z.enum(WORST_CASE_ATTACKS)).min(2).max(WORST_CASE_ATTACKS.length), accuracy: Fraction })).optional(),
  /** Self-check violations (gradient masking signs, broken evaluation); never hidden. */
  warnings: z.array(z.string()),
  /** Wall time per part, ms. */
  timings: z.object({ clean: z.number(), noise: z.number(), corruptions: z.number(), fgsm: z.number(), pgd: z.number(), square: z.number().optional() }),
  durationMs: z.number().min(0),
  /** Temperature scaling (when a temperature was fitted or given): ECE/NLL before and after, docs/robustness.md#calibration. */
  calibration: CalibrationReportSchema.optional(),
  /** Randomized smoothing (when asked for): certified accuracy at L2 radii, docs/robustness.md#certified-robustness. */
  certification: CertificationReportSchema.optional(),
  /** Text models: the word-substitution attack per budget (when asked for), docs/robustness.md#word-substitution-attack. */
  textAttacks: z.array(TextAttackRowSchema).optional(),
  /** `fedtune evaluate`'s JSON: the model evaluated (directory, SHA-256 of its files); a run's rounds name theirs elsewhere. */
  model: EvaluatedModelSchema.optional(),
  /** `fedtune evaluate`'s JSON: the data evaluated on (a built-in set's name, or a CSV's path and SHA-256). */
  data: EvaluatedDataSchema.optional(),
});

export type RobustnessReport = z.infer<typeof RobustnessReportSchema>;
export type CleanMetrics = z.infer<typeof CleanMetricsSchema>;
