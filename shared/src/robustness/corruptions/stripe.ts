import type { Corruption } from '../corruption.ts';

export const stripe: Corruption = {
  name: 'stripe',
  kind: 'image',
  severity: 1,
  description: 'inverts (1 − x) the left and right quarters of the image (columns < w/4 and ≥ 3w/4), as MNIST-C',
  apply(x, { width, height }) {
    const out = x.slice();
    const band = Math.round(width / 4);
    for (let y = 0; y < height; y++) {
      for (let c = 0; c < width; c++) if (c < band || c >= width - band) out[y * width + c] = 1 - x[y * width + c];
    }
    return out;
  },
};
