import * as tf from '@tensorflow/tfjs';
import { scaleTensor, type Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';
import { exactSign } from './signed-step.ts';

/** Fast gradient sign method: x + ε·sign(∇ₓ loss) (ε·scale per feature when given), clipped to the valid range. */
export const fgsm: Attack = {
  name: 'fgsm',
  reference: 'Goodfellow, Shlens & Szegedy 2015, Explaining and Harnessing Adversarial Examples',
  run(model, x, onehot, { eps, clipMin, clipMax, scale, loss }) {
    return tf.tidy(() => {
      if (eps === 0) return x.clone();
      const g = inputGradient(model, x, onehot, loss);
      const s = scaleTensor(x, scale);
      // The exact sign (tfjs-backend-wasm's tf.sign drops components below 1.19e-7: signed-step.ts).
      const sign = exactSign(g);
      const step = s ? tf.mul(sign, tf.mul(s, eps)) : tf.mul(sign, eps);
      return tf.clipByValue(tf.add(x, step), clipMin, clipMax);
    });
  },
};
