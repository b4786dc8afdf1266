import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';

/** Throws a typed error unless every update has the global model's layout and a valid example count. */
export function checkUpdates(global: WeightArrays, updates: Array<{ siteId?: string; weights: WeightArrays; numExamples: number }>): void {
  if (updates.length === 0) throw new FedtuneError('no_updates', 'cannot aggregate zero updates');
  for (const [k, u] of updates.entries()) {
    const who = u.siteId ?? `update ${k}`;
    if (!Number.isFinite(u.numExamples) || !Number.isInteger(u.numExamples) || u.numExamples <= 0) {
      throw new FedtuneError('invalid_count', `${who}: number of examples must be a positive integer, got ${u.numExamples}`);
    }
    if (u.weights.length !== global.length) {
      throw new FedtuneError('shape_mismatch', `${who}: ${u.weights.length} tensors, the global model has ${global.length}`);
    }
    for (let t = 0; t < global.length; t++) {
      if (u.weights[t].length !== global[t].length) {
        throw new FedtuneError('shape_mismatch', `${who}: tensor ${t} has ${u.weights[t].length} values, expected ${global[t].length}`);
      }
    }
  }
}
