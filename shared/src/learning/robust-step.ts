import * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../messages/schemas.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import { fgsm } from '../robustness/attacks/fgsm.ts';
import { pgd } from '../robustness/attacks/pgd.ts';

export const DEFAULT_ADVERSARIAL_PGD_STEPS = 7;

/** What one custom training step needs besides the batch. */
export interface StepContext {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  config: TrainConfig;
  /** The trainable variables. */
  vars: tf.Variable[];
  /** Copies of `vars` at the start of the fit (the global model), when μ > 0. */
  global?: tf.Tensor[];
  /** Valid input range, for adversarial examples. */
  clipMin: number;
  clipMax: number;
}

/**
 * Replaces the first ⌈share·n⌉ examples of the batch (already in shuffled order) by adversarial examples
 * against the current model. Returns a new tensor; the caller disposes it.
 */
export function adversarialBatch(ctx: StepContext, x: tf.Tensor, onehot: tf.Tensor, seed: number): tf.Tensor {
  const adv = ctx.config.adversarial;
  const n = x.shape[0];
  const k = adv ? Math.min(n, Math.ceil(adv.share * n)) : 0;
  if (!adv || k === 0 || adv.eps === 0) return x.clone();
  const steps = adv.method === 'pgd' ? (adv.steps ?? DEFAULT_ADVERSARIAL_PGD_STEPS) : 1;
  const stepSize = adv.method === 'pgd' ? (adv.stepSize ?? (2.5 * adv.eps) / steps) : adv.eps;
  const attack = adv.method === 'pgd' ? pgd : fgsm;
  const head = x.slice(0, k);
  const headLabels = onehot.slice(0, k);
  try {
    const perturbed = attack.run(ctx.model, head, headLabels, { eps: adv.eps, steps, stepSize, seed, clipMin: ctx.clipMin, clipMax: ctx.clipMax });
    if (k === n) return perturbed;
    const out = tf.tidy(() => tf.concat([perturbed, x.slice(k)]));
    perturbed.dispose();
    return out;
  } finally {
    tf.dispose([head, headLabels]);
  }
}

/**
 * One optimizer step on the softmax cross-entropy of the batch (on logits, in training mode so dropout
 * applies) plus the regularizers of the config: (λ/2)·Σ‖W‖² over trainable kernels (weight decay) and
 * (μ/2)·‖w − w_global‖² over the trainable variables (FedProx). Returns the batch's data loss (mean
 * cross-entropy) and the number of correct predictions.
 */
export function trainStep(ctx: StepContext, x: tf.Tensor, onehot: tf.Tensor): { loss: number; correct: number } {
  const { config } = ctx;
  const wd = config.weightDecay ?? 0;
  const mu = config.proximalMu ?? 0;
  let dataLoss: tf.Tensor | undefined;
  let hits: tf.Tensor | undefined;
  const cost = ctx.optimizer.minimize(
    () => {
      const logits = ctx.model.apply(x, { training: true }) as tf.Tensor;
      const ce = tf.losses.softmaxCrossEntropy(onehot, logits);
      dataLoss = tf.keep(ce.clone());
      hits = tf.keep(tf.equal(tf.argMax(logits, 1), tf.argMax(onehot, 1)).sum());
      let total = ce;
      if (wd > 0) {
        const kernels = ctx.vars.filter((v) => v.rank >= 2);
        if (kernels.length) total = tf.add(total, tf.mul(wd / 2, tf.addN(kernels.map((v) => tf.sum(tf.square(v))))));
      }
      if (mu > 0 && ctx.global) {
        const g = ctx.global;
        total = tf.add(total, tf.mul(mu / 2, tf.addN(ctx.vars.map((v, i) => tf.sum(tf.square(tf.sub(v, g[i])))))));
      }
      return total as tf.Scalar;
    },
    true,
    ctx.vars,
  );
  const loss = dataLoss!.dataSync()[0];
  const correct = hits!.dataSync()[0];
  tf.dispose([cost!, dataLoss!, hits!]);
  return { loss, correct };
}

/** Seed of the adversarial examples of one batch. */
export function batchSeed(seed: number, epoch: number, batch: number): number {
  return deriveSeed(seed, 'adversarial', epoch, batch);
}
