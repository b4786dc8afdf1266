import type { Corruption } from '../corruption.ts';
import { poisson } from '../image-ops.ts';

const RATE = 3; // MNIST-C severity 5

export const shotNoise: Corruption = {
  name: 'shot_noise',
  kind: 'image',
  severity: 5,
  description: `Poisson (shot) noise: x ← Poisson(${RATE}·x)/${RATE}, clipped to [0, 1]`,
  apply(x, { rng }) {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = Math.min(1, poisson(RATE * x[i], rng) / RATE);
    return out;
  },
};
