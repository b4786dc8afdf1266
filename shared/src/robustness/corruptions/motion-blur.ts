import type { Corruption } from '../corruption.ts';
import { clip01, sampleBilinear } from '../image-ops.ts';

// MNIST-C severity 1: ImageMagick motion blur with radius 10, sigma 3, angle uniform in [-45°, 45°]
const RADIUS = 10;
const SIGMA = 3;

export const motionBlur: Corruption = {
  name: 'motion_blur',
  kind: 'image',
  severity: 1,
  description: `one-sided motion blur: a Gaussian-weighted (σ=${SIGMA} px) average over ${RADIUS} px along a random direction in [−45°, 45°]`,
  apply(x, { width, height, rng }) {
    const angle = (rng.uniform(-45, 45) * Math.PI) / 180;
    const ux = Math.cos(angle);
    const uy = Math.sin(angle);
    const weights = Array.from({ length: RADIUS + 1 }, (_, k) => Math.exp(-(k * k) / (2 * SIGMA * SIGMA)));
    const total = weights.reduce((a, b) => a + b, 0);
    const out = new Float32Array(x.length);
    for (let y = 0; y < height; y++) {
      for (let c = 0; c < width; c++) {
        let v = 0;
        for (let k = 0; k <= RADIUS; k++) {
          // samples outside the image repeat the nearest edge, as ImageMagick's virtual pixels do
          const sx = Math.min(width - 1, Math.max(0, c - k * ux));
          const sy = Math.min(height - 1, Math.max(0, y - k * uy));
          v += weights[k] * sampleBilinear(x, width, height, sx, sy);
        }
        out[y * width + c] = v / total;
      }
    }
    return clip01(out);
  },
};
