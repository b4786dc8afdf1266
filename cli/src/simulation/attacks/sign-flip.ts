import type { Attack } from './attack.ts';
import { addDelta, delta } from './collusion.ts';

/** Sign flipping with a scale (Damaskinos et al. 2018; Li et al. 2019 RSA): sends global − scale · (w − global). */
export const signFlip: Attack = {
  name: 'sign-flip',
  reference: 'Li et al. 2019, RSA: Byzantine-Robust Stochastic Aggregation Methods',
  description: 'sends the honest update reversed and scaled',
  defaults: { scale: 4 },
  updateHook: (ctx) => (weights, { global }) => addDelta(global, delta(weights, global), -ctx.options.scale),
};
