import type { WeightArrays } from '../weights.ts';
import { checkUpdates } from './check-updates.ts';
import { addSquaredDistances, addWeightedDeltas, checkRound, checkStateLayout, tensorColumns } from './strategy-math.ts';
import { requireNumber, resolveOptions } from './strategy-options.ts';
import type { AggregateResult, Strategy, WeightedUpdate } from './strategy.ts';

/**
 * Centered clipping (Karimireddy, He, Jaggi 2021, "Learning from History for Byzantine Robust Optimization",
 * ICML). Works on the DELTAS Δ_k = w_k − global. Starting from the previous round's centre v (zero in the
 * first round), L iterations of
 *   v ← v + (1/n) Σ_k (Δ_k − v) · min(1, τ / ‖Δ_k − v‖)
 * and the new model is global + v. Each update moves the centre by at most τ/n per iteration, so one outlier
 * has bounded influence however far it is. Unweighted, as in the paper. The centre (a delta, one
 * Float32Array per tensor) is returned in the state and starts the next round: the paper's "history".
 */
export interface CenteredClipOptions {
  /** Clipping radius τ > 0 around the centre. */
  radius: number;
  /** Iterations L ≥ 1 per round. */
  iterations: number;
}

/**
 * τ = 1, L = 3. The paper uses L = 1 with worker momentum; sites here send plain deltas, so a few more
 * iterations let the centre catch up within a round. Set τ near the spread of honest deltas.
 */
export const CENTEREDCLIP_DEFAULTS: Readonly<CenteredClipOptions> = Object.freeze({ radius: 1, iterations: 3 });

export interface CenteredClipState {
  /** Rounds aggregated so far. */
  round: number;
  /** The last round's centre v (a delta from that round's global model); null before the first round. */
  centre: WeightArrays | null;
}

export function resolveCenteredClipOptions(options?: Partial<CenteredClipOptions>): CenteredClipOptions {
  const o = resolveOptions('centeredclip', CENTEREDCLIP_DEFAULTS, options);
  requireNumber('centeredclip', 'radius', o.radius, { min: 0, minExclusive: true });
  requireNumber('centeredclip', 'iterations', o.iterations, { min: 1, integer: true });
  return o;
}

export function initialCenteredClipState(): CenteredClipState {
  return { round: 0, centre: null };
}

export function aggregateCenteredClip(
  global: WeightArrays,
  updates: WeightedUpdate[],
  state: CenteredClipState | null | undefined,
  options?: Partial<CenteredClipOptions>,
): AggregateResult<CenteredClipState> {
  const { radius, iterations } = resolveCenteredClipOptions(options);
  checkUpdates(global, updates);
  const s = state ?? initialCenteredClipState();
  const round = checkRound('centeredclip', s.round);
  if (s.centre) checkStateLayout('centeredclip', 'centre', global, s.centre);
  const n = updates.length;
  const cols = global.map((_, t) => tensorColumns(updates, t));
  let centre: WeightArrays = s.centre ?? global.map((g) => new Float32Array(g.length));
  const sums = new Float64Array(n);
  const coeffs = new Float64Array(n);
  for (let l = 0; l < iterations; l++) {
    // base = global + centre in float64: the differences Δ_k − v are then w_k − base.
    const base = global.map((g, t) => {
      const c = centre[t], b = new Float64Array(g.length);
      for (let i = 0; i < b.length; i++) b[i] = g[i] + c[i];
      return b;
    });
    sums.fill(0);
    for (let t = 0; t < global.length; t++) addSquaredDistances(sums, cols[t], base[t]);
    for (let k = 0; k < n; k++) {
      const dist = Math.sqrt(sums[k]);
      coeffs[k] = (dist > radius ? radius / dist : 1) / n;
    }
    const prev = centre;
    centre = global.map((g, t) => {
      const next = new Float32Array(g.length);
      addWeightedDeltas(next, base[t], cols[t], coeffs, prev[t]);
      return next;
    });
  }
  const weights = global.map((g, t) => {
    const c = centre[t], out = new Float32Array(g.length);
    for (let i = 0; i < out.length; i++) out[i] = g[i] + c[i];
    return out;
  });
  return { weights, state: { round: round + 1, centre } };
}

export const centeredClip: Strategy<CenteredClipState, Partial<CenteredClipOptions>> = {
  name: 'centeredclip',
  ignoresExampleCounts: true,
  reference: 'Karimireddy, He, Jaggi 2021, Learning from History for Byzantine Robust Optimization (centered clipping)',
  initialState: (options) => {
    resolveCenteredClipOptions(options);
    return initialCenteredClipState();
  },
  aggregate: (global, updates, state, options) => aggregateCenteredClip(global, updates, state, options),
};
