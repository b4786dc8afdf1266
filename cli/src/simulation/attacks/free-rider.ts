import type { Attack } from './attack.ts';

/** Free riders (Lin et al. 2019): return the global model unchanged while claiming their examples. */
export const freeRider: Attack = {
  name: 'free-rider',
  reference: 'Lin et al. 2019, Free-riders in Federated Learning: Attacks and Defenses',
  description: 'sends the global model back unchanged',
  defaults: {},
  updateHook: () => (_weights, { global }) => global.map((g) => g.slice()),
};
