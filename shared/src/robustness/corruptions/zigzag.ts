import type { Corruption } from '../corruption.ts';
import { lineMask } from '../image-ops.ts';

// segment length and amplitude of the zigzag, in pixels (MNIST-C: 2 and 2)
const LENGTH = 2;
const AMPLITUDE = 2;

export const zigzag: Corruption = {
  name: 'zigzag',
  kind: 'image',
  severity: 1,
  description: `adds a zigzag line (segments ${LENGTH} px long, ±${AMPLITUDE} px) along a random, slightly sloped line from column 2 to width − 3`,
  apply(x, { width, height, rng }) {
    const c0 = 2;
    const c1 = width - 3;
    const r0 = rng.int(height - 1);
    const r1 = r0 + rng.int(10) - 5;
    const theta = Math.atan((r1 - r0) / (c1 - c0));
    const d = (c1 - c0) / Math.cos(theta);
    // the zigzag along the x axis, then rotated by theta and moved to (c0, r0)
    const points: Array<[number, number]> = [[0, 0]];
    for (let i = 0; (2 * i + 1) * LENGTH < d; i++) points.push([(2 * i + 1) * LENGTH, (i % 2 === 0 ? 1 : -1) * AMPLITUDE]);
    points.push([d, 0]);
    const rotated = points.map(([u, v]) => [c0 + Math.cos(theta) * u - Math.sin(theta) * v, r0 + Math.sin(theta) * u + Math.cos(theta) * v]);
    const out = x.slice();
    for (let i = 1; i < rotated.length; i++) {
      const [ca, ra] = rotated[i - 1];
      const [cb, rb] = rotated[i];
      const line = ca <= cb ? lineMask(width, height, ca, ra, cb, rb) : lineMask(width, height, cb, rb, ca, ra);
      for (let j = 0; j < out.length; j++) out[j] = Math.min(1, out[j] + line[j]);
    }
    return out;
  },
};
