import type { Corruption } from '../corruption.ts';

const AMOUNT = 0.17; // MNIST-C severity 4

export const impulseNoise: Corruption = {
  name: 'impulse_noise',
  kind: 'image',
  severity: 4,
  description: `salt-and-pepper noise: ${AMOUNT * 100}% of the pixels set to 0 or 1 (half each)`,
  apply(x, { rng }) {
    const out = x.slice();
    for (let i = 0; i < x.length; i++) if (rng.next() < AMOUNT) out[i] = rng.next() < 0.5 ? 0 : 1;
    return out;
  },
};
