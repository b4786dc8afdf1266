import type { Dataset } from '@fedtune/shared';
import type { Attack } from './attack.ts';

const SIDE = 28;

/** Stamps a 4×4 checkerboard trigger into the bottom-right corner of 28×28 images (copies). */
export function stampTrigger(x: Float32Array, n: number, indices?: Iterable<number>): Float32Array {
  const out = x.slice();
  const f = SIDE * SIDE;
  for (const i of indices ?? Array.from({ length: n }, (_, k) => k)) {
    for (let dy = 0; dy < 4; dy++) {
      for (let dx = 0; dx < 4; dx++) out[i * f + (SIDE - 2 - 4 + dy) * SIDE + (SIDE - 2 - 4 + dx)] = (dx + dy) % 2 === 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Backdoor (Bagdasaryan et al. 2020; Gu et al. 2017 BadNets): a share of the site's images get a trigger
 * patch and the target label. The attack success rate is the share of triggered holdout images of other
 * classes that the global model labels as the target.
 */
export const backdoor: Attack = {
  name: 'backdoor',
  reference: 'Bagdasaryan et al. 2020, How To Backdoor Federated Learning; Gu et al. 2017, BadNets',
  description: 'trains on images with a trigger patch relabelled to the target class',
  defaults: { target: 0, share: 0.5, boost: 1 },
  poisonData(data, ctx) {
    const n = data.y.length;
    const chosen = Array.from({ length: n }, (_, i) => i).filter(() => ctx.rng.next() < ctx.options.share);
    const y = data.y.slice();
    for (const i of chosen) y[i] = ctx.options.target;
    return { ...data, x: stampTrigger(data.x, n, chosen), y };
  },
  probe(holdout, options): { name: string; data: Dataset } {
    const keep = Array.from({ length: holdout.y.length }, (_, i) => i).filter((i) => holdout.y[i] !== options.target);
    const f = holdout.featureShape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(keep.length * f);
    keep.forEach((i, k) => x.set(holdout.x.subarray(i * f, (i + 1) * f), k * f));
    return {
      name: 'backdoorSuccessRate',
      data: { ...holdout, x: stampTrigger(x, keep.length), y: new Int32Array(keep.length).fill(options.target) },
    };
  },
};
