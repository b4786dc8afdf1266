/**
 * The optimizer updates of tfjs 4.22 (`tf.train.sgd`, `tf.train.momentum(lr, 0.9)`, `tf.train.adam(lr)`) as
 * one pass over a variable's values and its moment buffers, in place. Every intermediate is rounded to
 * float32 (`Math.fround`) in the order tfjs's own kernels compute it, so the results equal tfjs's to the bit
 * on IEEE float32 backends (wasm, cpu): same constants (β₁ 0.9, β₂ 0.999, Adam's ε = the backend's epsilon
 * 1e-7, momentum 0.9 without Nesterov), same bias correction from the running products β₁ᵗ and β₂ᵗ.
 *
 * Pure loops over typed arrays: the new values go to `out` (which may be `w` itself); the caller passes views
 * of the wasm heap (fused-optimizer.ts) or plain arrays.
 */

const f = Math.fround;

/** out ← w + (−lr)·g (tf.train.sgd). */
export function sgdUpdate(out: Float32Array, w: Float32Array, g: Float32Array, negLr: number): void {
  const c = f(negLr);
  for (let i = 0; i < w.length; i++) out[i] = f(f(c * g[i]!) + w[i]!);
}

/** a ← m·a + g; out ← w + (−lr)·a (tf.train.momentum, useNesterov false). */
export function momentumUpdate(out: Float32Array, w: Float32Array, g: Float32Array, acc: Float32Array, negLr: number, momentum: number): void {
  const c = f(negLr);
  const m = f(momentum);
  for (let i = 0; i < w.length; i++) {
    const a = f(f(m * acc[i]!) + g[i]!);
    acc[i] = a;
    out[i] = f(f(c * a) + w[i]!);
  }
}

/** Adam's per-step constants: β₁, β₂, 1 − β₁, 1 − β₂, 1 − β₁ᵗ, 1 − β₂ᵗ, ε and −lr, each a float32. */
export interface AdamStepConstants {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  epsilon: number;
  negLr: number;
}

/** The constants of one Adam step, given the running products β₁ᵗ and β₂ᵗ (float32) before the step. */
export function adamStepConstants(learningRate: number, beta1: number, beta2: number, epsilon: number, accBeta1: number, accBeta2: number): AdamStepConstants {
  return {
    beta1: f(beta1),
    beta2: f(beta2),
    oneMinusBeta1: f(1 - beta1),
    oneMinusBeta2: f(1 - beta2),
    oneMinusAccBeta1: f(1 - accBeta1),
    oneMinusAccBeta2: f(1 - accBeta2),
    epsilon: f(epsilon),
    negLr: f(-learningRate),
  };
}

/**
 * m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; out ← w + (−lr)·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε) (tf.train.adam).
 */
export function adamUpdate(out: Float32Array, w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamStepConstants): void {
  const { beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negLr } = c;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    const mi = f(f(m[i]! * beta1) + f(gi * oneMinusBeta1));
    const vi = f(f(v[i]! * beta2) + f(f(gi * gi) * oneMinusBeta2));
    m[i] = mi;
    v[i] = vi;
    const mHat = f(mi / oneMinusAccBeta1);
    const vHat = f(vi / oneMinusAccBeta2);
    out[i] = f(f(f(mHat / f(f(Math.sqrt(vHat)) + epsilon)) * negLr) + w[i]!);
  }
}
