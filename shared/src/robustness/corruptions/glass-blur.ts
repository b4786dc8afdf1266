import type { Corruption } from '../corruption.ts';
import { clip01, gaussianBlur } from '../image-ops.ts';

// MNIST-C severity 1: sigma, max displacement, iterations
const SIGMA = 0.7;
const DELTA = 1;
const ITERATIONS = 2;

export const glassBlur: Corruption = {
  name: 'glass_blur',
  kind: 'image',
  severity: 1,
  description: `Gaussian blur σ=${SIGMA}, then ${ITERATIONS} passes swapping each inner pixel with probability ½ with one up to ${DELTA} px up/left, then blur σ=${SIGMA} again`,
  apply(x, { width, height, rng }) {
    const img = gaussianBlur(x, width, height, SIGMA);
    for (let it = 0; it < ITERATIONS; it++) {
      for (let h = height - DELTA; h > DELTA; h--) {
        for (let w = width - DELTA; w > DELTA; w--) {
          if (rng.next() < 0.5) continue;
          const dx = rng.int(2 * DELTA) - DELTA;
          const dy = rng.int(2 * DELTA) - DELTA;
          const a = h * width + w;
          const b = (h + dy) * width + (w + dx);
          [img[a], img[b]] = [img[b], img[a]];
        }
      }
    }
    return clip01(gaussianBlur(img, width, height, SIGMA));
  },
};
