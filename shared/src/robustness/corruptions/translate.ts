import type { Corruption } from '../corruption.ts';
import { clip01, warpAffine } from '../image-ops.ts';

const SHIFT = 3; // pixels per axis, MNIST-C severity 3

export const translate: Corruption = {
  name: 'translate',
  kind: 'image',
  severity: 3,
  description: `shifts by ±${SHIFT} px horizontally and ±${SHIFT} px vertically (random signs), zero fill`,
  apply(x, { width, height, rng }) {
    const dx = rng.next() < 0.5 ? -SHIFT : SHIFT;
    const dy = rng.next() < 0.5 ? -SHIFT : SHIFT;
    return clip01(warpAffine(x, width, height, [1, 0, dx, 0, 1, dy]));
  },
};
