import type { Attack } from './attack.ts';

/** Gaussian random updates (Blanchard et al. 2017's "Gaussian Byzantine"): global + N(0, σ²) per coordinate. */
export const gaussian: Attack = {
  name: 'gaussian',
  reference: 'Blanchard et al. 2017, Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent',
  description: 'sends the global model plus Gaussian noise of standard deviation sigma',
  defaults: { sigma: 1 },
  updateHook: (ctx) => (_weights, { global }) => global.map((g) => g.map((v) => v + ctx.options.sigma * ctx.rng.normal())),
};
