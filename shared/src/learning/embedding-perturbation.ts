import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../random/seeded-random.ts';
import type { EmbeddingSplit } from '../robustness/text/embedding-split.ts';
import type { AdversarialPlan } from './adversarial-plan.ts';

/** The padding id of token-id inputs: its positions are never perturbed. */
export const EMBEDDING_PAD_ID = 0;

/** Each token's L2 norm over the embedding axis, [n, seqLen, 1]. Call inside tidy. */
function tokenNorms(t: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(t), 2, true));
}

/** Each token's vector projected onto the L2 ball of radius `eps`. Call inside tidy. */
export function projectPerToken(t: tf.Tensor, eps: number): tf.Tensor {
  return tf.mul(t, tf.minimum(1, tf.div(eps, tf.maximum(tokenNorms(t), 1e-12))));
}

/**
 * Adversarial training on embeddings (Miyato et al. 2017, Adversarial Training Methods for Semi-Supervised
 * Text Classification; Zhu et al. 2020, FreeLB): the perturbation δ of the embedding output of the first
 * ⌈share·n⌉ examples of the batch (the rest get 0, as `adversarialBatch` replaces the first examples in input
 * space), each non-pad token's δ inside an L2 ball of radius ε. FGSM: one step of length ε along each token's
 * normalised gradient from 0 (Miyato's r_adv). PGD: a seeded random start in the ball (uniform direction and
 * radius per token), then `steps` normalised-gradient steps of `stepSize`, each projected back onto the ball.
 * A token whose gradient is 0 (e.g. it never wins a max-pool) is not moved by a step. Gradients of the summed
 * cross-entropy in inference mode, the model's weights fixed. Returns δ, [n, seqLen,
 * dim] (the caller disposes it); leaks nothing else.
 */
export function embeddingPerturbation(split: EmbeddingSplit, ids: tf.Tensor, onehot: tf.Tensor, plan: AdversarialPlan, seed: number): tf.Tensor {
  const n = ids.shape[0];
  const k = Math.min(n, Math.ceil(plan.share * n));
  return tf.tidy(() => {
    const emb = split.embed(ids);
    const [, seqLen, dim] = emb.shape;
    if (k === 0) return tf.zerosLike(emb);
    const head = emb.slice([0, 0, 0], [k, seqLen, dim]);
    const labels = onehot.slice([0, 0], [k, onehot.shape[1]!]);
    const mask = tf.cast(tf.notEqual(ids.slice([0, 0], [k, seqLen]), EMBEDDING_PAD_ID), 'float32').expandDims(2);
    const lossOf = (delta: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, split.rest(tf.add(head, delta), false), undefined, undefined, tf.Reduction.SUM);
    const gradOf = tf.grad(lossOf);
    const step = (delta: tf.Tensor, size: number) => {
      const g = gradOf(delta);
      return tf.mul(projectPerToken(tf.add(delta, tf.mul(tf.div(g, tf.maximum(tokenNorms(g), 1e-12)), size)), plan.eps), mask);
    };
    let delta: tf.Tensor;
    if (plan.method === 'fgsm') {
      delta = step(tf.zeros(head.shape), plan.eps);
    } else {
      const rng = new SeededRandom(seed);
      const direction = Float32Array.from({ length: k * seqLen * dim }, () => rng.normal());
      const radii = Float32Array.from({ length: k * seqLen }, () => rng.uniform(0, plan.eps));
      const d = tf.tensor3d(direction, [k, seqLen, dim]);
      delta = tf.mul(tf.mul(tf.div(d, tf.maximum(tokenNorms(d), 1e-12)), tf.tensor3d(radii, [k, seqLen, 1])), mask);
      for (let s = 0; s < plan.steps; s++) delta = step(delta, plan.stepSize);
    }
    return k === n ? delta : tf.concat([delta, tf.zeros([n - k, seqLen, dim])]);
  });
}

/** The model's logits with `delta` added to its embedding output (training mode: dropout applies). */
export function logitsWithEmbeddingDelta(split: EmbeddingSplit, ids: tf.Tensor, delta: tf.Tensor): tf.Tensor {
  return split.rest(tf.add(split.embed(ids), delta), true);
}
