import * as tf from '@tensorflow/tfjs';
import type { AdversarialPlan } from './adversarial-plan.ts';

/**
 * TRADES (Zhang et al. 2019, Theoretically Principled Trade-off between Robustness and Accuracy): the
 * training loss is CE(f(x), y) + β·KL(p(x) ‖ p(x′)), with x′ the input of the ball around x that maximises the
 * KL. This file holds both halves.
 *
 * The inner maximisation: the plan's attack (PGD, L∞ or L2) run against the soft labels p(x) instead of
 * one-hot labels. The gradient of Σ −p(x)·log p(x′) with respect to x′ is that of KL(p(x) ‖ p(x′)) (the
 * entropy of p(x) does not depend on x′), so the attack climbs the KL. Its random start in the ball plays the
 * role of TRADES's 0.001·N(0, 1) start (at x′ = x the KL's gradient is zero). Returns new tensor; the
 * caller disposes it.
 */
export function tradesAdversarial(model: tf.LayersModel, x: tf.Tensor, plan: AdversarialPlan, seed: number, clipMin: number, clipMax: number): tf.Tensor {
  const soft = tf.tidy(() => tf.softmax(model.apply(x, { training: false }) as tf.Tensor));
  try {
    return plan.attack.run(model, x, soft, { eps: plan.eps, steps: plan.steps, stepSize: plan.stepSize, seed, clipMin, clipMax, ...(plan.scale ? { scale: plan.scale } : {}) });
  } finally {
    soft.dispose();
  }
}

/**
 * The outer term: β·KL(p(x) ‖ p(x′)) summed over the first k examples (those with adversarial partners)
 * and divided by the batch size n (TRADES's batch mean). `cleanLogits` are the batch's logits (n rows),
 * `advLogits` the partners' (k rows). Differentiable in both; call inside the optimizer's loss function.
 */
export function tradesKlTerm(cleanLogits: tf.Tensor, advLogits: tf.Tensor, beta: number): tf.Tensor {
  const n = cleanLogits.shape[0];
  const head = cleanLogits.slice(0, advLogits.shape[0]);
  const logP = tf.logSoftmax(head);
  const kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, tf.logSoftmax(advLogits))));
  return tf.mul(beta / n, kl);
}
