import type { Corruption } from '../corruption.ts';
import { plasmaFractal } from '../image-ops.ts';

// MNIST-C severity 5: fog strength 3.0, fractal decay 1.4
const STRENGTH = 3;
const DECAY = 1.4;
const MAP = 256;

export const fog: Corruption = {
  name: 'fog',
  kind: 'image',
  severity: 5,
  description: `adds ${STRENGTH}× a plasma fractal (diamond-square, ${MAP}², decay ${DECAY}), rescaled by max/(max + ${STRENGTH})`,
  apply(x, { width, height, rng }) {
    const plasma = plasmaFractal(MAP, DECAY, rng, width, height);
    let max = 0;
    for (const v of x) max = Math.max(max, v);
    const out = new Float32Array(x.length);
    for (let y = 0; y < height; y++) {
      for (let c = 0; c < width; c++) {
        const v = ((x[y * width + c] + STRENGTH * plasma[y * width + c]) * max) / (max + STRENGTH);
        out[y * width + c] = Math.min(1, Math.max(0, v));
      }
    }
    return out;
  },
};
