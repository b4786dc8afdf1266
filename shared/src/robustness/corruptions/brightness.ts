import type { Corruption } from '../corruption.ts';

const SHIFT = 0.5; // MNIST-C severity 5 (HSV value + 0.5; for grayscale the value is the intensity)

export const brightness: Corruption = {
  name: 'brightness',
  kind: 'image',
  severity: 5,
  description: `brightness: x ← min(1, x + ${SHIFT})`,
  apply(x) {
    return x.map((v) => Math.min(1, Math.max(0, v + SHIFT)));
  },
};
