import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../../random/seeded-random.ts';
import { scaleTensor, type Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';
import { normalizeL2, projectL2 } from './l2-ball.ts';

/**
 * Projected gradient descent, L2: a seeded random start in the ε-ball (a uniform direction at a uniform
 * radius), then `steps` steps of length `stepSize` along the normalised gradient, each projected back onto
 * the L2 ball of radius ε around x and clipped to the valid range. With a per-feature `scale` the ball is
 * {δ : ‖δ / scale‖₂ ≤ ε}: the attack runs in those units (a feature of scale 0 never moves).
 */
export const pgdL2: Attack = {
  name: 'pgd-l2',
  norm: 'l2',
  reference: 'Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks (L2 threat model)',
  run(model, x, onehot, { eps, steps, stepSize, seed, clipMin, clipMax, scale, loss }) {
    if (eps === 0) return x.clone();
    const rng = new SeededRandom(seed);
    const n = x.shape[0];
    const direction = new Float32Array(x.size);
    for (let i = 0; i < direction.length; i++) direction[i] = rng.normal();
    const radii = Float32Array.from({ length: n }, () => rng.uniform(0, eps));
    const s = scaleTensor(x, scale);
    const ones = x.shape.slice(1).map(() => 1);
    const place = (v: tf.Tensor) => tf.clipByValue(tf.add(x, s ? tf.mul(v, s) : v), clipMin, clipMax);
    // u: the perturbation in ε's units (δ = u·scale), always inside the ball. After clipping, u is what
    // actually moved (a feature of scale 0 stays at 0), from the random start on: what the start lost to
    // clipping or spent on a feature of scale 0 does not shorten the first step's projection.
    const back = (adv: tf.Tensor) => (s ? tf.divNoNan(tf.sub(adv, x), s) : tf.sub(adv, x));
    let adv = tf.tidy(() => place(tf.mul(normalizeL2(tf.tensor(direction, x.shape, 'float32')), tf.tensor(radii, [n, ...ones], 'float32'))));
    let u = tf.tidy(() => back(adv));
    try {
      for (let k = 0; k < steps; k++) {
        const [nextAdv, nextU] = tf.tidy(() => {
          const g = inputGradient(model, adv, onehot, loss);
          const a = place(projectL2(tf.add(u, tf.mul(normalizeL2(s ? tf.mul(g, s) : g), stepSize)), eps));
          return [a, back(a)];
        });
        tf.dispose([adv, u]);
        adv = nextAdv;
        u = nextU;
      }
      return adv;
    } finally {
      u.dispose();
      s?.dispose();
    }
  },
};
