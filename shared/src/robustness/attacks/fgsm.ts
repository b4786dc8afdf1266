import * as tf from '@tensorflow/tfjs';
import type { Attack } from './attack.ts';
import { inputGradient } from './input-gradient.ts';

/** Fast gradient sign method: x + ε·sign(∇ₓ loss), clipped to the valid range. */
export const fgsm: Attack = {
  name: 'fgsm',
  reference: 'Goodfellow, Shlens & Szegedy 2015, Explaining and Harnessing Adversarial Examples',
  run(model, x, onehot, { eps, clipMin, clipMax }) {
    return tf.tidy(() => {
      if (eps === 0) return x.clone();
      const g = inputGradient(model, x, onehot);
      return tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), eps)), clipMin, clipMax);
    });
  },
};
