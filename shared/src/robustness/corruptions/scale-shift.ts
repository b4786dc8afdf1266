import type { Corruption } from '../corruption.ts';

const FACTOR = 1.5; // a site whose instruments read 50 % high on a third of the features
const SHARE = 1 / 3;

export const scaleShift: Corruption = {
  name: 'scale_shift',
  kind: 'tabular',
  severity: 1,
  description: `feature-scale shift: every third feature (indices ≡ 0 mod 3) multiplied by ${FACTOR} about the feature mean`,
  apply(x, { stats }) {
    const out = x.slice();
    const every = Math.round(1 / SHARE);
    for (let i = 0; i < x.length; i += every) {
      const m = stats?.mean[i] ?? 0;
      out[i] = m + FACTOR * (x[i] - m);
    }
    return out;
  },
};
