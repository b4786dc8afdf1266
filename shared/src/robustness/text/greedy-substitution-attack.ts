import type { SubstitutionAttackFn } from './evaluate-text-robustness.ts';
import { evaluateTextAttack } from './evaluate-text-attack.ts';
import { nearestNeighbourCandidates } from './candidate-table.ts';
import { splitAtEmbedding } from './embedding-split.ts';

/** The word-substitution attack a text task's report runs by default (docs/robustness.md#word-substitution-attack). */
export const GREEDY_SUBSTITUTION_DEFAULTS = Object.freeze({ k: 8, maxCosineDistance: 1, budgets: [1, 2, 4] as readonly number[] });

/**
 * The greedy, gradient-guided word-substitution attack (wordSubstitutionAttack) as a text robustness report's
 * `substitution` hook: a white-box attacker that takes each word's candidates from the attacked model's own
 * embedding (its k nearest words by cosine), one greedy run at the largest budget serving every budget
 * (evaluateTextAttack). Returns the accuracy after the attack per budget, in order.
 */
export function greedySubstitutionAttack(options: { k?: number; maxCosineDistance?: number } = {}): SubstitutionAttackFn {
  const k = options.k ?? GREEDY_SUBSTITUTION_DEFAULTS.k;
  const maxCosineDistance = options.maxCosineDistance ?? GREEDY_SUBSTITUTION_DEFAULTS.maxCosineDistance;
  return (model, ids, labels, budgets) => {
    const split = splitAtEmbedding(model);
    // The live embedding variable (never disposed); the table is read into plain JS.
    const candidates = nearestNeighbourCandidates(split.matrix(), k, maxCosineDistance);
    const n = labels.length;
    const numClasses = (model.outputs[0].shape[model.outputs[0].shape.length - 1] as number | null) ?? Math.max(0, ...labels) + 1;
    const data = { x: Float32Array.from(ids), y: labels, featureShape: [n ? ids.length / n : 0], numClasses };
    return evaluateTextAttack(model, data, budgets, { candidates }).map((row) => row.accuracy);
  };
}
