import type { Attack } from './attack.ts';

/** Garbage updates: every value NaN (a crashed or hostile site). Validation must reject them. */
export const nanUpdate: Attack = {
  name: 'nan',
  reference: 'fault injection',
  description: 'sends NaN in every weight',
  defaults: {},
  updateHook: () => (weights) => weights.map((w) => new Float32Array(w.length).fill(NaN)),
};
