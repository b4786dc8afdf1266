import type { Attack } from './attack.ts';
import { addDelta, delta } from './collusion.ts';

/**
 * A finite but enormous update: the site's delta scaled by `scale` (default 1e30), claiming one example.
 * Without a norm bound one such update makes the global loss NaN (issue 11, finding 3).
 */
export const hugeScale: Attack = {
  name: 'huge-scale',
  reference: 'fault injection (issue 11): no norm bound by default',
  description: 'sends its update scaled by `scale` (default 1e30), claiming 1 example',
  defaults: { scale: 1e30 },
  updateHook: (ctx) => (weights, { global }) => ({ weights: addDelta(global, delta(weights, global), ctx.options.scale), numExamples: 1 }),
};
