/**
 * Why adversarial training a site cannot do is refused: one text per reason, said by a site's fitLocal and by the
 * coordinator before a run starts (coordinator/src/run/adversarial-training-check.ts), so both say the same.
 */
export const ADVERSARIAL_REFUSALS = {
  dpSgdTrades: 'DP-SGD cannot be combined with TRADES: its KL term pairs examples outside the per-example clipping',
  dpSgdAwp: 'DP-SGD cannot be combined with adversarial weight perturbation (awp): its extra gradient pass is outside the per-example clipping',
  dpSgdEmbedding: 'DP-SGD cannot be combined with adversarial training on embeddings',
  inputSpaceTokens: 'adversarial training in input space cannot perturb token ids: set adversarial space "embedding" (--adv-space embedding) for a model whose first layer is an Embedding',
} as const;
