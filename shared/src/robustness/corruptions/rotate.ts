import type { Corruption } from '../corruption.ts';
import { centredAffine, clip01, warpAffine } from '../image-ops.ts';

const ANGLE = 0.4; // radians (≈ 23°), MNIST-C severity 2

export const rotate: Corruption = {
  name: 'rotate',
  kind: 'image',
  severity: 2,
  description: `rotates by ±${ANGLE} rad (≈ ±23°, random sign) about the centre, bilinear, zero fill`,
  apply(x, { width, height, rng }) {
    const a = rng.next() < 0.5 ? -ANGLE : ANGLE;
    return clip01(warpAffine(x, width, height, centredAffine(width, height, Math.cos(a), -Math.sin(a), Math.sin(a), Math.cos(a))));
  },
};
