import type { Attack } from './attack.ts';

/** Label flipping (Biggio et al. 2012; Tolpegin et al. 2020): every label y becomes C − 1 − y before training. */
export const labelFlip: Attack = {
  name: 'label-flip',
  reference: 'Tolpegin et al. 2020, Data Poisoning Attacks Against Federated Learning Systems',
  description: 'trains honestly on data whose labels are flipped (y → C−1−y)',
  defaults: {},
  poisonData(data, ctx) {
    return { ...data, y: data.y.map((y) => ctx.numClasses - 1 - y) };
  },
};
