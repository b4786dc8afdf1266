import * as tf from '@tensorflow/tfjs';
import { FedtuneError } from '../../errors.ts';
import type { AttackLoss } from './attack-loss.ts';

export interface AttackParams {
  /** Radius of the attack's ball (L∞ or L2, as the attack's `norm`). */
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
  /**
   * Per-feature units of ε (one value per input feature, e.g. each feature's standard deviation for
   * tabular data): feature j may move by ε·scale[j] and each PGD step by stepSize·scale[j]. Absent: ε is in
   * absolute input units for every feature (images on [0, 1]).
   */
  scale?: Float32Array;
  /** The loss whose input gradient the attack follows (default 'ce'). */
  loss?: AttackLoss;
}

/** `scale` as a tensor of one example's shape (broadcasts over the batch), or undefined. */
export function scaleTensor(x: tf.Tensor, scale: Float32Array | undefined): tf.Tensor | undefined {
  if (!scale) return undefined;
  const perExample = x.shape.slice(1);
  const f = perExample.reduce((a, b) => a * b, 1);
  if (scale.length !== f) throw new FedtuneError('config', `attack scale has ${scale.length} values, the inputs have ${f} features`);
  return tf.tensor(scale, perExample, 'float32');
}

/**
 * An evasion attack (L∞, or L2 where `norm` says so) as a plain config object (registered from the list in `attacks/registry.ts`).
 * `run` returns a new tensor of adversarial inputs (the caller disposes it) and leaks nothing else;
 * `x` are the inputs, `onehot` the true labels. Gradients are those of `params.loss` (default the softmax
 * cross-entropy) taken on the model's logits.
 */
export interface Attack {
  readonly name: 'fgsm' | 'pgd' | 'fgm-l2' | 'pgd-l2';
  /** The norm of the attack's ball (absent: 'linf'). */
  readonly norm?: 'linf' | 'l2';
  readonly reference: string;
  run(model: tf.LayersModel, x: tf.Tensor, onehot: tf.Tensor, params: AttackParams): tf.Tensor;
}
