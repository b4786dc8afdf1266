import type { Attack } from './attack.ts';
import { addDelta, delta } from './collusion.ts';

/**
 * Boosted model replacement (Bagdasaryan et al. 2020, "How To Backdoor Federated Learning"): the update is
 * scaled by γ (default: the number of sites) so that it survives averaging.
 */
export const scaling: Attack = {
  name: 'scaling',
  reference: 'Bagdasaryan et al. 2020, How To Backdoor Federated Learning',
  description: 'sends its update boosted by gamma (default: number of sites)',
  defaults: { gamma: 0 },
  updateHook: (ctx) => (weights, { global }) => addDelta(global, delta(weights, global), ctx.options.gamma > 0 ? ctx.options.gamma : ctx.totalSites),
};
