import type { Corruption } from '../corruption.ts';
import { centredAffine, clip01, warpAffine } from '../image-ops.ts';

const SHEAR = 0.4; // radians, MNIST-C severity 2

export const shear: Corruption = {
  name: 'shear',
  kind: 'image',
  severity: 2,
  description: `horizontal shear by ±${SHEAR} rad (random sign) about the image centre, bilinear`,
  apply(x, { width, height, rng }) {
    const s = rng.next() < 0.5 ? -SHEAR : SHEAR;
    return clip01(warpAffine(x, width, height, centredAffine(width, height, 1, -Math.sin(s), 0, Math.cos(s))));
  },
};
