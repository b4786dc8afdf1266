import type { Attack } from './attack.ts';

/**
 * Weight hijack: an all-zeros model claiming a huge example count, so that a FedAvg that trusts the claim
 * is dominated by it (issue 11, finding 3: 63% → 10% accuracy in two rounds under the old defaults).
 */
export const zerosMaxCount: Attack = {
  name: 'zeros-max-count',
  reference: 'fault injection (issue 11): trusting self-reported example counts',
  description: 'sends all-zeros weights claiming `count` examples (default 1,000,000)',
  defaults: { count: 1_000_000 },
  updateHook: (ctx) => (weights) => ({ weights: weights.map((w) => new Float32Array(w.length)), numExamples: ctx.options.count }),
};
