import { z } from 'zod';

const Fraction = z.number().min(0).max(1);

/**
 * One row of a text attack in the robustness report (`textAttacks`), per budget as the image attacks are per ε
 * (docs/robustness.md#word-substitution-attack).
 */
export const TextAttackRowSchema = z.object({
  attack: z.literal('word-substitution'),
  /** Words replaced per example at most: a count ('words') or a share of its non-pad tokens ('share'). */
  budget: z.number().min(0),
  budgetUnit: z.enum(['words', 'share']),
  /** Examples attacked. */
  examples: z.number().int().min(0),
  /** Accuracy on the attacked examples after the attack (all examples: the misclassified ones count as wrong). */
  accuracy: Fraction,
  /** Share of the correctly classified examples the attack turned wrong (0 when none were correct). */
  attackSuccessRate: Fraction,
  /** Words replaced per successful attack (0 when none succeeded). */
  meanReplaced: z.number().min(0),
});

export type TextAttackRow = z.infer<typeof TextAttackRowSchema>;
