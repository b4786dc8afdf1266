import type { Corruption } from '../corruption.ts';
import { lineMask } from '../image-ops.ts';

export const dottedLine: Corruption = {
  name: 'dotted_line',
  kind: 'image',
  severity: 1,
  description: 'adds a dotted line (2 px on, 2 px off) across the image between two random rows at the left and right edges',
  apply(x, { width, height, rng }) {
    const r0 = rng.int(height - 1);
    const r1 = rng.int(height - 1);
    const line = lineMask(width, height, 0, r0, width - 1, r1);
    const out = new Float32Array(x.length);
    for (let y = 0; y < height; y++) {
      for (let c = 0; c < width; c++) {
        const on = Math.floor(c / 2) % 2 === 1;
        out[y * width + c] = Math.min(1, x[y * width + c] + (on ? line[y * width + c] : 0));
      }
    }
    return out;
  },
};
