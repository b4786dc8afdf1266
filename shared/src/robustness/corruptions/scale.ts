import type { Corruption } from '../corruption.ts';
import { centredAffine, clip01, warpAffine } from '../image-ops.ts';

const FACTOR = 0.7; // MNIST-C severity 3: the digit shrinks to 70 %

export const scale: Corruption = {
  name: 'scale',
  kind: 'image',
  severity: 3,
  description: `scales the image by ${FACTOR} about its centre (zoom out), bilinear, zero fill`,
  apply(x, { width, height }) {
    return clip01(warpAffine(x, width, height, centredAffine(width, height, 1 / FACTOR, 0, 0, 1 / FACTOR)));
  },
};
