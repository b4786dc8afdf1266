import { z } from 'zod';

const Accuracy = z.number().min(0).max(1);

/**
 * The text robustness section of a run report (`textRobustness`): the model's accuracy on `examples` holdout
 * texts, clean and after each text corruption at each severity (applied to the raw text, then tokenized), and
 * — when a word-substitution attack is provided — after the attack at each budget (words changed per text).
 */
export const TextRobustnessReportSchema = z.object({
  examples: z.number().int().min(0),
  seed: z.number().int(),
  clean: z.object({ accuracy: Accuracy }),
  corruptions: z.array(
    z.object({
      name: z.string().max(64),
      description: z.string().max(300),
      severities: z.array(z.object({ severity: z.number().min(0).max(1), accuracy: Accuracy })),
    }),
  ),
  /** Mean accuracy over every corruption and severity. */
  meanCorruptedAccuracy: Accuracy,
  /** The corruption and severity with the lowest accuracy. */
  worst: z.object({ name: z.string().max(64), severity: z.number(), accuracy: Accuracy }).optional(),
  /** Word-substitution attack per budget (absent when no attack was provided). */
  substitution: z.object({ budgets: z.array(z.object({ budget: z.number().int().min(0), accuracy: Accuracy })) }).optional(),
});
export type TextRobustnessReport = z.infer<typeof TextRobustnessReportSchema>;
