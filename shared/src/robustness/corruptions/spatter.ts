import type { Corruption } from '../corruption.ts';
import { gaussianBlur } from '../image-ops.ts';

// MNIST-C severity 4: liquid mean 0.65, std 0.3, blur 1, threshold 0.65, mask blur 1.5
const MEAN = 0.65;
const STD = 0.3;
const BLUR = 1;
const THRESHOLD = 0.65;
const MASK_BLUR = 1.5;
const MUD = 63 / 255;

export const spatter: Corruption = {
  name: 'spatter',
  kind: 'image',
  severity: 4,
  description: `mud spatter: blobs where blurred (σ=${BLUR}) N(${MEAN}, ${STD}) noise exceeds ${THRESHOLD}, mask blurred (σ=${MASK_BLUR}) and kept above 0.8, painted gray ${MUD.toFixed(2)}`,
  apply(x, { width, height, rng }) {
    const liquid = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) liquid[i] = MEAN + STD * rng.normal();
    const blurred = gaussianBlur(liquid, width, height, BLUR);
    const mask0 = blurred.map((v) => (v > THRESHOLD ? 1 : 0));
    const mask = gaussianBlur(mask0, width, height, MASK_BLUR);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const m = mask[i] < 0.8 ? 0 : Math.min(1, mask[i]);
      out[i] = Math.min(1, Math.max(0, x[i] * (1 - m) + MUD * m));
    }
    return out;
  },
};
