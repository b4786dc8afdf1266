/** The loss an attack ascends (input-gradient.ts): the softmax cross-entropy, or the logit margin. */
export type AttackLoss = 'ce' | 'margin';
/** Every attack loss, in the order an evaluation runs them by default. */
export const ATTACK_LOSSES = ['ce', 'margin'] as const satisfies readonly AttackLoss[];
