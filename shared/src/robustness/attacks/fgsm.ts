import * as tf from '@tensorflow/tfjs';
import { scaleTensor, type Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';

/** Fast gradient sign method: x + ε·sign(∇ₓ loss) (ε·scale per feature when given), clipped to the valid range. */
export const fgsm: Attack = {
  name: 'fgsm',
  reference: 'Goodfellow, Shlens & Szegedy 2015, Explaining and Harnessing Adversarial Examples',
  run(model, x, onehot, { eps, clipMin, clipMax, scale }) {
    return tf.tidy(() => {
      if (eps === 0) return x.clone();
      const g = inputGradient(model, x, onehot);
      const s = scaleTensor(x, scale);
      const step = s ? tf.mul(tf.sign(g), tf.mul(s, eps)) : tf.mul(tf.sign(g), eps);
      return tf.clipByValue(tf.add(x, step), clipMin, clipMax);
    });
  },
};
