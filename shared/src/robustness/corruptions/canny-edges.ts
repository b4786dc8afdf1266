import type { Corruption } from '../corruption.ts';
import { cannyEdges as canny } from '../image-ops.ts';

export const cannyEdges: Corruption = {
  name: 'canny_edges',
  kind: 'image',
  severity: 1,
  description: 'replaces the image by its Canny edge map (σ=1, hysteresis thresholds 0.1 and 0.2 on the Sobel magnitude)',
  apply(x, { width, height }) {
    return canny(x, width, height, 1, 0.1, 0.2);
  },
};
