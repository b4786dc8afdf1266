import * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../messages/schemas.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import type { AdversarialPlan } from './adversarial-plan.ts';
import type { AttackLoss } from '../robustness/attacks/attack-loss.ts';
import type { FusedOptimizer } from './fused-optimizer.ts';
import { tradesAdversarial, tradesKlTerm } from './trades-step.ts';
import type { EmbeddingSplit } from '../robustness/text/embedding-split.ts';
import { embeddingPerturbation, logitsWithEmbeddingDelta } from './embedding-perturbation.ts';
import { perturbWeights } from './adversarial-weight-perturbation.ts';

/** What one custom training step needs besides the batch. */
export interface StepContext {
  model: tf.LayersModel;
  optimizer: FusedOptimizer;
  config: TrainConfig;
  /** The trainable variables. */
  vars: tf.Variable[];
  /** Copies of `vars` at the start of the fit (the global model), when μ > 0. */
  global?: tf.Tensor[];
  /** Valid input range, for adversarial examples. */
  clipMin: number;
  clipMax: number;
  /** `config.adversarial` resolved on the site's data (adversarialPlan), when it trains adversarially. */
  adversarial?: AdversarialPlan;
  /** The model split at its Embedding, when `adversarial.space` is 'embedding'. */
  embedding?: EmbeddingSplit;
}

/** How many of a batch of n get adversarial examples (or TRADES partners): ⌈share·n⌉. */
function adversarialCount(plan: AdversarialPlan | undefined, n: number): number {
  return plan ? Math.min(n, Math.ceil(plan.share * n)) : 0;
}

/**
 * Replaces the first ⌈share·n⌉ examples of the batch (already in shuffled order) by adversarial examples
 * against the current model (FGSM / PGD methods; TRADES keeps the batch clean, see tradesPartners). Returns a
 * new tensor; the caller disposes it.
 */
export function adversarialBatch(ctx: StepContext, x: tf.Tensor, onehot: tf.Tensor, seed: number): tf.Tensor {
  const plan = ctx.adversarial;
  const n = x.shape[0];
  const k = adversarialCount(plan, n);
  // Stryker disable next-line LogicalOperator,ConditionalExpression: equivalent: with a plan k is 0 only for an empty batch (share > 0), whose attack on 0 rows then gives the same empty tensor.
  if (!plan || k === 0 || plan.method === 'trades' || plan.space === 'embedding') return x.clone();
  const params = { eps: plan.eps, steps: plan.steps, stepSize: plan.stepSize, seed, clipMin: ctx.clipMin, clipMax: ctx.clipMax, ...(plan.scale ? { scale: plan.scale } : {}) };
  // 'mixed': the first ⌈k/2⌉ by cross-entropy, the rest by the margin (one part when k is 1).
  const parts: Array<[number, number, AttackLoss]> =
    plan.attackLoss === 'mixed' ? ([[0, Math.ceil(k / 2), 'ce'], [Math.ceil(k / 2), k, 'margin']] as Array<[number, number, AttackLoss]>).filter(([a, b]) => b > a) : [[0, k, plan.attackLoss]];
  const pieces: tf.Tensor[] = [];
  try {
    for (const [start, end, loss] of parts) {
      const head = x.slice(start, end - start);
      const headLabels = onehot.slice(start, end - start);
      try {
        pieces.push(plan.attack.run(ctx.model, head, headLabels, { ...params, ...(loss === 'ce' ? {} : { loss }) }));
      } finally {
        tf.dispose([head, headLabels]);
      }
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: at k = n the slice is empty, and concatenating it changes no value.
    if (k < n) pieces.push(x.slice(k));
    // Stryker disable next-line ConditionalExpression: equivalent: concat of one piece is a copy with the same values (the piece is disposed in finally either way).
    if (pieces.length === 1) return pieces.pop()!;
    return tf.concat(pieces);
  } finally {
    tf.dispose(pieces);
  }
}

/**
 * TRADES: the adversarial partners x′ of the first ⌈share·n⌉ examples of the batch (maximising the KL to the
 * clean prediction), or undefined for the other methods. A new tensor; the caller disposes it.
 */
export function tradesPartners(ctx: StepContext, x: tf.Tensor, seed: number): tf.Tensor | undefined {
  const plan = ctx.adversarial;
  const k = adversarialCount(plan, x.shape[0]);
  if (!plan || plan.method !== 'trades' || k === 0) return undefined;
  const head = x.slice(0, k);
  try {
    return tradesAdversarial(ctx.model, head, plan, seed, ctx.clipMin, ctx.clipMax);
  } finally {
    head.dispose();
  }
}

/** Adversarial training on embeddings: the batch's embedding perturbation (embeddingPerturbation), or undefined in input space. */
export function embeddingDelta(ctx: StepContext, x: tf.Tensor, onehot: tf.Tensor, seed: number): tf.Tensor | undefined {
  return ctx.adversarial?.space === 'embedding' && ctx.embedding ? embeddingPerturbation(ctx.embedding, x, onehot, ctx.adversarial, seed) : undefined;
}

/**
 * One optimizer step on the softmax cross-entropy of the batch (on logits, in training mode so dropout
 * applies) plus the regularizers of the config: (λ/2)·Σ‖W‖² over trainable kernels (weight decay) and
 * (μ/2)·‖w − w_global‖² over the trainable variables (FedProx). Returns the batch's data loss (mean
 * cross-entropy) and the number of correct predictions. With `partners` (TRADES), β·KL(p(x) ‖ p(x′)) over the
 * first partners.shape[0] examples is added (tradesKlTerm); the returned loss stays the clean cross-entropy.
 * With `delta` (adversarial training on embeddings), the loss is taken with delta added to the embedding output.
 * With the plan's `awp` γ > 0 the gradient is taken at adversarially perturbed weights (perturbWeights, AWP) and
 * applied to the unperturbed ones; the returned loss and correct count are then those at the perturbed weights.
 */
export function trainStep(ctx: StepContext, x: tf.Tensor, onehot: tf.Tensor, partners?: tf.Tensor, delta?: tf.Tensor): { loss: number; correct: number } {
  const { config } = ctx;
  const wd = config.weightDecay ?? 0;
  const mu = config.proximalMu ?? 0;
  // The batch's data objective: CE on its (adversarial) input, plus TRADES's KL term with partners.
  const objective = (): { logits: tf.Tensor; ce: tf.Scalar; total: tf.Scalar } => {
    const logits = delta && ctx.embedding ? logitsWithEmbeddingDelta(ctx.embedding, x, delta) : (ctx.model.apply(x, { training: true }) as tf.Tensor);
    const ce = tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
    if (!partners || !ctx.adversarial) return { logits, ce, total: ce };
    const advLogits = ctx.model.apply(partners, { training: true }) as tf.Tensor;
    return { logits, ce, total: tf.add(ce, tradesKlTerm(logits, advLogits, ctx.adversarial.beta)) as tf.Scalar };
  };
  // AWP: the gradient below is taken at weights moved up the same objective, then applied to the weights as they were.
  const perturbation = perturbWeights(ctx.vars, ctx.adversarial?.awp ?? 0, () => objective().total);
  let dataLoss: tf.Tensor | undefined;
  let hits: tf.Tensor | undefined;
  let value: tf.Scalar | undefined;
  let grads: tf.NamedTensorMap = {};
  try {
    ({ value, grads } = tf.variableGrads(() => {
      const { logits, ce, total: data } = objective();
      dataLoss = tf.keep(ce.clone());
      hits = tf.keep(tf.equal(tf.argMax(logits, 1), tf.argMax(onehot, 1)).sum());
      let total: tf.Tensor = data;
      if (wd > 0) {
        const kernels = ctx.vars.filter((v) => v.rank >= 2);
        if (kernels.length) total = tf.add(total, tf.mul(wd / 2, tf.addN(kernels.map((v) => tf.sum(tf.square(v))))));
      }
      if (mu > 0 && ctx.global) {
        const g = ctx.global;
        total = tf.add(total, tf.mul(mu / 2, tf.addN(ctx.vars.map((v, i) => tf.sum(tf.square(tf.sub(v, g[i])))))));
      }
      return total as tf.Scalar;
    }, ctx.vars));
  } finally {
    perturbation.restore();
  }
  try {
    ctx.optimizer.applyTensors(ctx.vars.map((v) => grads[v.name]));
    return { loss: dataLoss!.dataSync()[0], correct: hits!.dataSync()[0] };
  } finally {
    tf.dispose([value!, ...Object.values(grads), dataLoss!, hits!]);
  }
}

/** Seed of the adversarial examples of one batch. */
export function batchSeed(seed: number, epoch: number, batch: number): number {
  return deriveSeed(seed, 'adversarial', epoch, batch);
}
