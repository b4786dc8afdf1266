import * as tf from '@tensorflow/tfjs';
import { dpSgdNoiseVector } from '../privacy/dp-sgd-accounting.ts';
import type { NormalSource } from '../privacy/chacha-random.ts';
import type { StepContext } from './robust-step.ts';

/** DP-SGD parameters of one step: per-example clip norm C and noise multiplier z. */
export interface DpSgdStepParams {
  clip: number;
  noiseMultiplier: number;
  /** Source of the Gaussian noise (a `ChaChaRandom` from OS randomness in training). */
  noise: NormalSource;
}

/** The regularizers of the config (weight decay, FedProx): data-independent, so added after the noise, unclipped. */
function regularizer(ctx: StepContext): (() => tf.Scalar) | undefined {
  const wd = ctx.config.weightDecay ?? 0;
  const mu = ctx.config.proximalMu ?? 0;
  const kernels = ctx.vars.filter((v) => v.rank >= 2);
  const terms: Array<() => tf.Tensor> = [];
  if (wd > 0 && kernels.length) terms.push(() => tf.mul(wd / 2, tf.addN(kernels.map((v) => tf.sum(tf.square(v))))));
  if (mu > 0 && ctx.global) {
    const g = ctx.global;
    terms.push(() => tf.mul(mu / 2, tf.addN(ctx.vars.map((v, i) => tf.sum(tf.square(tf.sub(v, g[i])))))));
  }
  if (terms.length === 0) return undefined;
  return () => tf.addN(terms.map((t) => t())) as tf.Scalar;
}

/**
 * One DP-SGD step (Abadi et al. 2016, Alg. 1) on the batch: the gradient of each example's softmax
 * cross-entropy (logits, training mode) over all trainable variables is clipped to L2 norm C, the clipped
 * gradients are summed, N(0, (z·C)²) is added to every coordinate, the sum is divided by the batch size and
 * the optimizer applies it (with the regularizers' gradient added, which depends on no record).
 *
 * Per-example gradients come from a loop over the batch (one `variableGrads` per example, each in its own
 * `tidy`): simple and exact for any model, B backward passes per step. Returns the batch's mean loss and
 * correct count, measured on the same forward passes. Leaks no tensors.
 */
export function dpSgdStep(ctx: StepContext, x: tf.Tensor, onehot: tf.Tensor, p: DpSgdStepParams): { loss: number; correct: number } {
  const { vars } = ctx;
  const b = x.shape[0];
  const reg = regularizer(ctx);
  const [lossSum, hits, ...grads] = tf.tidy(() => {
    let acc: tf.Tensor[] = [tf.scalar(0), tf.scalar(0), ...vars.map((v) => tf.zerosLike(v))];
    for (let i = 0; i < b; i++) {
      let hit: tf.Tensor | undefined;
      const next = tf.tidy(() => {
        const xi = x.slice(i, 1);
        const oi = onehot.slice(i, 1);
        const { value, grads: g } = tf.variableGrads(() => {
          const logits = ctx.model.apply(xi, { training: true }) as tf.Tensor;
          hit = tf.keep(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(oi, 1)).sum(), 'float32'));
          return tf.losses.softmaxCrossEntropy(oi, logits) as tf.Scalar;
        }, vars);
        const gs = vars.map((v) => g[v.name]);
        const norm = tf.sqrt(tf.addN(gs.map((t) => tf.sum(tf.square(t)))));
        // min(1, C/‖g‖); a zero gradient stays zero.
        const factor = tf.minimum(1, tf.div(p.clip, tf.maximum(norm, 1e-30)));
        return [tf.add(acc[0], value), tf.add(acc[1], hit!), ...gs.map((t, k) => tf.add(acc[k + 2], tf.mul(t, factor)))];
      });
      tf.dispose([...acc, ...(hit ? [hit] : [])]);
      acc = next;
    }
    const std = p.noiseMultiplier * p.clip;
    const noisy = acc.slice(2).map((sum, k) => {
      const withNoise = std > 0 ? tf.add(sum, tf.tensor(dpSgdNoiseVector(p.noise, sum.size, std), sum.shape, 'float32')) : sum;
      return tf.div(withNoise, b);
    });
    if (reg) {
      const { grads: rg } = tf.variableGrads(reg, vars);
      return [acc[0], acc[1], ...noisy.map((t, k) => tf.add(t, rg[vars[k].name]))];
    }
    return [acc[0], acc[1], ...noisy];
  });
  try {
    ctx.optimizer.applyTensors(grads);
    return { loss: lossSum.dataSync()[0] / b, correct: hits.dataSync()[0] };
  } finally {
    tf.dispose([lossSum, hits, ...grads]);
  }
}
