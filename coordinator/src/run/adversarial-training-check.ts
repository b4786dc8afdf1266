import type * as tf from '@tensorflow/tfjs';
import { ADVERSARIAL_REFUSALS, FedtuneError, startsWithEmbedding, type TrainConfig } from '@fedtune/shared';

/**
 * Refuses, before the run starts, adversarial training the sites cannot do with this model and these settings —
 * the same refusals as a site's fitLocal, which otherwise came back from every site every round as a config
 * error whose detail stays in the site's own log, until the run aborted on its quorum saying only that
 * (finding: `--adv-space embedding` on the digits):
 * - on embeddings (`space: embedding`) for a model whose first layer is no Embedding;
 * - in input space for a model that starts with one (token ids cannot be perturbed);
 * - with DP-SGD: TRADES (its KL term pairs examples outside the per-example clipping), adversarial weight
 *   perturbation (its extra gradient pass), or on embeddings.
 */
export function checkAdversarialTraining(train: Pick<TrainConfig, 'adversarial' | 'dpSgd'>, model: tf.LayersModel): void {
  const adv = train.adversarial;
  if (!adv || adv.share <= 0 || adv.eps <= 0) return;
  const embedded = startsWithEmbedding(model);
  const first = model.layers.find((l) => l.getClassName() !== 'InputLayer')?.getClassName() ?? 'missing';
  if (adv.space === 'embedding' && !embedded) {
    throw new FedtuneError('config', `adversarial training on embeddings (--adv-space embedding) needs a model whose first layer is an Embedding over token ids; this model's first layer is ${first}: leave --adv-space out to perturb its input`);
  }
  if (adv.space !== 'embedding' && embedded) {
    throw new FedtuneError('config', ADVERSARIAL_REFUSALS.inputSpaceTokens);
  }
  if (!train.dpSgd) return;
  if (adv.method === 'trades') throw new FedtuneError('config', ADVERSARIAL_REFUSALS.dpSgdTrades);
  if ((adv.awp ?? 0) > 0) throw new FedtuneError('config', ADVERSARIAL_REFUSALS.dpSgdAwp);
  if (adv.space === 'embedding') throw new FedtuneError('config', ADVERSARIAL_REFUSALS.dpSgdEmbedding);
}
