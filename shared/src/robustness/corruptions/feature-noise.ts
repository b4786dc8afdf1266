import type { Corruption } from '../corruption.ts';

const SCALE = 0.5; // noise std as a share of each feature's std

export const featureNoise: Corruption = {
  name: 'feature_noise',
  kind: 'tabular',
  severity: 1,
  description: `adds Gaussian noise of ${SCALE}× each feature's standard deviation, clipped to the feature's observed range`,
  apply(x, { rng, stats }) {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i] + SCALE * (stats?.std[i] ?? 1) * rng.normal();
      out[i] = stats ? Math.min(stats.max[i], Math.max(stats.min[i], v)) : v;
    }
    return out;
  },
};
