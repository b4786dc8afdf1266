import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../../random/seeded-random.ts';
import type { Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';

/**
 * Projected gradient descent (L∞): a uniform random start in the ε-ball (seeded), then `steps` signed
 * gradient steps of `stepSize`, each projected back onto the ε-ball around x and the valid range.
 */
export const pgd: Attack = {
  name: 'pgd',
  reference: 'Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks',
  run(model, x, onehot, { eps, steps, stepSize, seed, clipMin, clipMax }) {
    if (eps === 0) return x.clone();
    const rng = new SeededRandom(seed);
    const start = new Float32Array(x.size);
    // Stryker disable next-line EqualityOperator: `i <= start.length` is equivalent: the one extra draw comes after every value used and a write past a typed array's end is ignored.
    for (let i = 0; i < start.length; i++) start[i] = rng.uniform(-eps, eps);
    let adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor(start, x.shape, 'float32')), clipMin, clipMax));
    const lo = tf.tidy(() => tf.maximum(tf.sub(x, eps), clipMin));
    const hi = tf.tidy(() => tf.minimum(tf.add(x, eps), clipMax));
    try {
      for (let s = 0; s < steps; s++) {
        const next = tf.tidy(() => {
          const g = inputGradient(model, adv, onehot);
          return tf.minimum(tf.maximum(tf.add(adv, tf.mul(tf.sign(g), stepSize)), lo), hi);
        });
        adv.dispose();
        adv = next;
      }
      return adv;
    } finally {
      tf.dispose([lo, hi]);
    }
  },
};
