import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { modelLogits } from './calibration/model-logits.ts';

/**
 * Share of the examples on which the softmax cross-entropy is saturated: the true class's probability,
 * 1 / (1 + Σ_{j≠y} exp(z_j − z_y)), rounds to 1 in float32 — the loss's gradient with respect to the true
 * logit is then exactly 0, and an attack following it sees only what rounding left of the others. The sign
 * of gradient masking by saturation (self-checks.ts); `logits` is n × k, row-major. 0 for no examples.
 */
export function saturatedShare(logits: Float32Array, y: ArrayLike<number>, k: number): number {
  const n = y.length;
  if (n === 0) return 0;
  let saturated = 0;
  for (let i = 0; i < n; i++) {
    const row = i * k;
    const zy = logits[row + y[i]];
    let others = 0;
    for (let j = 0; j < k; j++) if (j !== y[i]) others += Math.exp(logits[row + j] - zy);
    if (Math.fround(1 / (1 + others)) === 1) saturated++;
  }
  return saturated / n;
}

/** `saturatedShare` of `model` on `ds` (its logits in batches; leaks no tensors). */
export function saturatedShareOf(model: tf.LayersModel, ds: Dataset, batchSize?: number): number {
  return saturatedShare(modelLogits(model, ds, batchSize), ds.y, ds.numClasses);
}
