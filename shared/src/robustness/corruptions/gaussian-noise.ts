import type { Corruption } from '../corruption.ts';

/** Additive Gaussian noise of standard deviation `sigma`, clipped to [lo, hi] (the valid input range). */
export function gaussianNoise(sigma: number, lo = 0, hi = 1): Corruption {
  return {
    name: `gaussian_noise_${sigma}`,
    kind: 'image',
    severity: sigma,
    description: `x ← clip(x + N(0, ${sigma}²), ${lo}, ${hi})`,
    apply(x, { rng }) {
      const out = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = Math.min(hi, Math.max(lo, x[i] + sigma * rng.normal()));
      return out;
    },
  };
}
