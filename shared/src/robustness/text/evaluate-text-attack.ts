import type * as tf from '@tensorflow/tfjs';
import { featureSize, type Dataset } from '../../data/dataset.ts';
import { FedtuneError } from '../../errors.ts';
import type { TextAttackRow } from './text-attack-report.ts';
import { exampleBudgets, wordSubstitutionAttack, type WordSubstitutionOptions } from './word-substitution-attack.ts';

export type TextAttackOptions = Omit<WordSubstitutionOptions, 'budget'>;

/** A dataset of token ids (x holds whole numbers) as Int32Array ids. */
export function tokenIds(data: Dataset): Int32Array {
  const ids = new Int32Array(data.x.length);
  for (let i = 0; i < ids.length; i++) {
    const v = data.x[i];
    if (!Number.isInteger(v)) throw new FedtuneError('data', `text features are token ids (whole numbers), found ${v} at ${i}`);
    ids[i] = v;
  }
  return ids;
}

/**
 * The word-substitution attack at each of `budgets` on every example of `data` (token ids as features):
 * accuracy after the attack, attack success rate and words replaced per success, one row per budget.
 * The greedy path of an example does not depend on its budget (a smaller budget stops the same path
 * earlier), so the attack runs once at the largest budget and each row reads where the path had flipped
 * the prediction: the same numbers as one attack per budget, at the cost of one. Accuracy therefore never
 * rises with the budget.
 */
export function evaluateTextAttack(model: tf.LayersModel, data: Dataset, budgets: readonly number[], options: TextAttackOptions): TextAttackRow[] {
  if (budgets.length === 0) return [];
  const unit = options.budgetUnit ?? 'words';
  const n = data.y.length;
  const seqLen = featureSize(data);
  const ids = tokenIds(data);
  const padId = options.padId ?? 0;
  const perBudget = budgets.map((b) => exampleBudgets(ids, n, seqLen, b, unit, padId));
  const max = Math.max(...budgets);
  const run = wordSubstitutionAttack(model, ids, data.y, { ...options, budget: max, budgetUnit: unit });
  return budgets.map((budget, q) => {
    let correct = 0;
    let attacked = 0;
    let successes = 0;
    let words = 0;
    for (let i = 0; i < n; i++) {
      if (!run.correctBefore[i]) continue;
      attacked++;
      // Flipped within this budget: the path flipped it after `replaced` swaps, no more than the budget allows.
      if (run.success[i] && run.replaced[i] <= perBudget[q][i]) {
        successes++;
        words += run.replaced[i];
      } else correct++;
    }
    return {
      attack: 'word-substitution' as const,
      budget,
      budgetUnit: unit,
      examples: n,
      accuracy: n ? correct / n : 0,
      attackSuccessRate: attacked ? successes / attacked : 0,
      meanReplaced: successes ? words / successes : 0,
    };
  });
}
