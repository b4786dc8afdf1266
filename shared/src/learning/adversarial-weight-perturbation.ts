import * as tf from '@tensorflow/tfjs';

/**
 * Adversarial weight perturbation (AWP; Wu, Xia, Wang 2020, "Adversarial Weight Perturbation Helps Robust
 * Generalization"): before the step's gradient is taken, every weight matrix W (variables of rank ≥ 2; biases
 * and BatchNorm vectors are left alone, as in the paper) moves by one normalised ascent step on the training
 * loss, scaled to its own norm:
 *
 *   v = γ · ‖W‖ · g / ‖g‖,   g = ∇_W loss(W; the step's (adversarial) batch)
 *
 * The step's gradient is then taken at W + v and applied to W (the perturbation is undone first): the model
 * is trained to keep its adversarial loss low in a neighbourhood of its weights, which is what narrows the
 * robust generalisation gap (robust overfitting). A variable whose gradient or weights are all zero is left
 * unperturbed. Costs one forward and backward pass per step.
 */
export interface WeightPerturbation {
  /** Restores every perturbed variable to its exact value before `perturbWeights` (bit for bit), once. */
  restore(): void;
  /** ‖v‖ / ‖W‖ per variable (0 where unperturbed), in the order of the variables: γ for every perturbed one. */
  readonly relative: number[];
}

/**
 * Perturbs `vars` as above with the gradient of `loss` (a scalar function of the variables, run once), and
 * returns how to undo it. `gamma` ≤ 0 perturbs nothing. Leaks no tensors (the saved originals are released
 * by `restore`).
 */
export function perturbWeights(vars: readonly tf.Variable[], gamma: number, loss: () => tf.Scalar): WeightPerturbation {
  const relative = vars.map(() => 0);
  if (!(gamma > 0)) return { restore: () => undefined, relative };
  const { value, grads } = tf.variableGrads(loss, vars.filter((v) => v.rank >= 2));
  const saved: Array<[tf.Variable, tf.Tensor]> = [];
  try {
    vars.forEach((v, i) => {
      const g = grads[v.name];
      if (!g) return;
      const [wNorm, gNorm] = tf.tidy(() => [tf.norm(v), tf.norm(g)]).map((t) => {
        const x = t.dataSync()[0];
        t.dispose();
        return x;
      });
      if (!(wNorm > 0) || !(gNorm > 0) || !Number.isFinite(gNorm)) return;
      const original = v.clone();
      const moved = tf.tidy(() => tf.add(v, tf.mul(g, (gamma * wNorm) / gNorm)));
      try {
        v.assign(moved);
      } catch (error) {
        original.dispose();
        throw error;
      } finally {
        moved.dispose();
      }
      saved.push([v, original]);
      relative[i] = gamma;
    });
  } catch (error) {
    for (const [v, original] of saved) {
      v.assign(original);
      original.dispose();
    }
    throw error;
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
  let restored = false;
  return {
    relative,
    restore: () => {
      if (restored) return;
      restored = true;
      for (const [v, original] of saved) {
        v.assign(original);
        original.dispose();
      }
    },
  };
}
