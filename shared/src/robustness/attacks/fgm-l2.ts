import * as tf from '@tensorflow/tfjs';
import { scaleTensor, type Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';
import { normalizeL2 } from './l2-ball.ts';

/**
 * Fast gradient method, L2: one step of length ε along the normalised gradient, x + ε·∇/‖∇‖₂, clipped to the
 * valid range. With a per-feature `scale` the ball is {δ : ‖δ / scale‖₂ ≤ ε} (the step is taken in those units).
 */
export const fgmL2: Attack = {
  name: 'fgm-l2',
  norm: 'l2',
  reference: 'Goodfellow, Shlens & Szegedy 2015 (the L2 fast gradient method of Miyato et al. 2016 / Madry et al. 2018)',
  run(model, x, onehot, { eps, clipMin, clipMax, scale, loss }) {
    return tf.tidy(() => {
      if (eps === 0) return x.clone();
      const s = scaleTensor(x, scale);
      const g = inputGradient(model, x, onehot, loss);
      const u = tf.mul(normalizeL2(s ? tf.mul(g, s) : g), eps);
      return tf.clipByValue(tf.add(x, s ? tf.mul(u, s) : u), clipMin, clipMax);
    });
  },
};
