import type { Attack } from './attack.ts';
import { addDelta, delta } from './collusion.ts';

/** Inverse of the standard normal CDF (Acklam's rational approximation; |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * "A Little Is Enough" (Baruch et al. 2019): the colluding sites pool their honest updates, take the
 * per-coordinate mean μ and standard deviation σ, and all send μ − z·σ with z = Φ⁻¹((n − s)/n),
 * s = ⌊n/2 + 1⌋ − m: small enough to pass as honest, consistent enough to steer the average.
 */
export const alie: Attack = {
  name: 'alie',
  reference: 'Baruch et al. 2019, A Little Is Enough: Circumventing Defenses For Distributed Learning',
  description: 'colluders send mean − z·std of their pooled honest updates',
  defaults: { z: 0 },
  updateHook: (ctx) => async (weights, { global, round }) => {
    const pool = await ctx.collusion.post(round, delta(weights, global));
    const n = ctx.totalSites;
    const s = Math.floor(n / 2 + 1) - ctx.maliciousSites;
    const z = ctx.options.z > 0 ? ctx.options.z : Math.max(0.1, normalQuantile((n - s) / n));
    const out = global.map((g, t) => {
      const len = g.length;
      const res = new Float32Array(len);
      for (let i = 0; i < len; i++) {
        let mean = 0;
        for (const p of pool) mean += p[t][i];
        mean /= pool.length;
        let v = 0;
        for (const p of pool) v += (p[t][i] - mean) ** 2;
        const std = Math.sqrt(v / pool.length);
        res[i] = mean - z * std;
      }
      return res;
    });
    return addDelta(global, out);
  },
};
