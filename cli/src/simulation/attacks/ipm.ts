import type { Attack } from './attack.ts';
import { addDelta, delta } from './collusion.ts';

/**
 * Inner-product manipulation (Xie, Koyejo & Gupta 2019, "Fall of Empires"): the colluders send −ε times
 * the mean of their pooled honest updates, so the aggregate's inner product with the true direction turns
 * negative once enough of it gets through.
 */
export const ipm: Attack = {
  name: 'ipm',
  reference: 'Xie et al. 2019, Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product Manipulation',
  description: 'colluders send −epsilon × the mean of their honest updates',
  defaults: { epsilon: 0.5 },
  updateHook: (ctx) => async (weights, { global, round }) => {
    const pool = await ctx.collusion.post(round, delta(weights, global));
    const mean = global.map((g, t) => {
      const m = new Float32Array(g.length);
      for (const p of pool) for (let i = 0; i < m.length; i++) m[i] += p[t][i] / pool.length;
      return m;
    });
    return addDelta(global, mean, -ctx.options.epsilon);
  },
};
