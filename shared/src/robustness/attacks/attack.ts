import type * as tf from '@tensorflow/tfjs';

export interface AttackParams {
  /** L∞ radius. */
  eps: number;
  /** Iterations (PGD; FGSM takes one step of size eps). */
  steps: number;
  /** Step size per iteration (PGD). */
  stepSize: number;
  /** Seed of the random start (PGD). */
  seed: number;
  /** The valid input range: adversarial inputs are clipped to it. */
  clipMin: number;
  clipMax: number;
}

/**
 * An L∞ evasion attack as a plain config object (registered from the list in `attacks/registry.ts`).
 * `run` returns a new tensor of adversarial inputs (the caller disposes it) and leaks nothing else;
 * `x` are the inputs, `onehot` the true labels. Gradients are those of the softmax cross-entropy taken on
 * the model's logits.
 */
export interface Attack {
  readonly name: 'fgsm' | 'pgd';
  readonly reference: string;
  run(model: tf.LayersModel, x: tf.Tensor, onehot: tf.Tensor, params: AttackParams): tf.Tensor;
}
