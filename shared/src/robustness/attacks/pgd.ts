import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../../random/seeded-random.ts';
import { scaleTensor, type Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';
import { signedStep } from './signed-step.ts';

/**
 * Projected gradient descent (L∞): a uniform random start in the ε-ball (seeded), then `steps` signed
 * gradient steps of `stepSize`, each projected back onto the ε-ball around x and the valid range.
 */
export const pgd: Attack = {
  name: 'pgd',
  reference: 'Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks',
  run(model, x, onehot, { eps, steps, stepSize, seed, clipMin, clipMax, scale, loss }) {
    if (eps === 0) return x.clone();
    const rng = new SeededRandom(seed);
    const start = new Float32Array(x.size);
    const f = scale?.length ?? 1;
    // Stryker disable next-line EqualityOperator: `i <= start.length` is equivalent: the one extra draw comes after every value used and a write past a typed array's end is ignored.
    for (let i = 0; i < start.length; i++) start[i] = rng.uniform(-eps, eps) * (scale ? scale[i % f] : 1);
    const s = scaleTensor(x, scale);
    // The ε-ball (ε·scale per feature) intersected with the valid range, and the step (stepSize·scale).
    const radius = s ? tf.mul(s, eps) : tf.scalar(eps);
    // A number: on wasm the step, its sign and both projections are one fused pass (signed-step.ts).
    const step = s ? tf.mul(s, stepSize) : stepSize;
    let adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor(start, x.shape, 'float32')), clipMin, clipMax));
    const lo = tf.tidy(() => tf.maximum(tf.sub(x, radius), clipMin));
    const hi = tf.tidy(() => tf.minimum(tf.add(x, radius), clipMax));
    try {
      for (let k = 0; k < steps; k++) {
        const next = tf.tidy(() => {
          const g = inputGradient(model, adv, onehot, loss);
          return signedStep(adv, g, step, lo, hi);
        });
        adv.dispose();
        adv = next;
      }
      return adv;
    } finally {
      // With a scale the step is a tensor too.
      // Stryker disable next-line ArrayDeclaration: equivalent: tf.dispose ignores what is not a tensor.
      tf.dispose([lo, hi, radius, ...(s ? [s, step as tf.Tensor] : [])]);
    }
  },
};
