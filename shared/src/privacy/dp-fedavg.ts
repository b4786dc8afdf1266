/**
 * Client-level differential privacy for federated averaging (DP-FedAvg, McMahan, Ramage, Talwar & Zhang 2018,
 * "Learning Differentially Private Recurrent Language Models"), and adaptive clipping to a target quantile
 * (Andrew, Thakkar, McMahan & Ramaswamy 2021, "Differentially Private Learning with Adaptive Clipping").
 *
 * Per round: every sampled site clips its update Δ (the change of the weights, over all tensors) to L2 norm
 * C; the coordinator sums the clipped updates (unweighted, or with weights capped at 1 — the sensitivity of
 * the sum must stay C) and adds N(0, (z·C)²) to every coordinate of the sum; it divides by a fixed
 * denominator (the expected number of sites), not the noisy or actual count. One round is then one step of
 * the sampled Gaussian mechanism with noise multiplier z and sampling rate q = (sites per round)/(sites),
 * which `RdpAccountant.step(z, q)` accounts for. Pure functions over Float32Array[]; nothing is mutated.
 */
import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import type { NormalSource } from './chacha-random.ts';

/** L2 norm over all tensors together (accumulated in float64). */
export function l2Norm(arrays: WeightArrays): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

export interface ClipResult {
  /** The clipped update (new arrays). */
  update: WeightArrays;
  /** The norm before clipping. */
  norm: number;
  /** The factor applied: min(1, C / norm). */
  scale: number;
  /** Whether the norm was ≤ C (the bit adaptive clipping counts). */
  withinClip: boolean;
}

/** Scales `delta` so that its L2 norm over all tensors is at most `clip` (C > 0). */
export function clipUpdate(delta: WeightArrays, clip: number): ClipResult {
  if (!(Number.isFinite(clip) && clip > 0)) throw new FedtuneError('config', `clip norm must be a finite number > 0, got ${clip}`);
  const norm = l2Norm(delta);
  if (!Number.isFinite(norm)) throw new FedtuneError('non_finite', 'the update has a non-finite value');
  // clip/0 = ∞ for a zero update: the factor is 1. A factor of 1 copies the values exactly (x·1 = x in float32).
  const scale = Math.min(1, clip / norm);
  const update = delta.map((a) => {
    // A loop, not a typed array's map (a callback per element: ~2× the time of the loop).
    const out = new Float32Array(a.length);
    // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
    for (let i = 0; i < a.length; i++) out[i] = a[i] * scale;
    return out;
  });
  return { update, norm, scale, withinClip: norm <= clip };
}

/**
 * Adds independent N(0, std²) noise to every coordinate (new arrays). For DP use a cryptographic source
 * (`new ChaChaRandom()`); `SeededRandom` is fine for tests and simulations only.
 */
export function addGaussianNoise(sum: WeightArrays, std: number, rng: NormalSource): WeightArrays {
  if (!(Number.isFinite(std) && std >= 0)) throw new FedtuneError('config', `noise std must be a finite number ≥ 0, got ${std}`);
  return sum.map((a) => {
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i] + std * rng.normal();
    return out;
  });
}

/** Noise std on the sum of clipped updates for noise multiplier z and clip C: z·C. */
export function dpSumNoiseStd(noiseMultiplier: number, clip: number): number {
  return noiseMultiplier * clip;
}

// ---- adaptive clipping (Andrew et al. 2021) ----

export interface AdaptiveClipState {
  /** The clip norm C for the next round. */
  clip: number;
  /** Rounds updated so far. */
  rounds: number;
}

export interface AdaptiveClipOptions {
  /** γ: the fraction of updates that should fall within the clip (e.g. 0.5 for the median norm). */
  targetQuantile: number;
  /** η_C: step of the geometric update (the paper uses 0.2). */
  learningRate: number;
}

export function initialAdaptiveClip(clip: number): AdaptiveClipState {
  if (!(Number.isFinite(clip) && clip > 0)) throw new FedtuneError('config', `initial clip must be > 0, got ${clip}`);
  return { clip, rounds: 0 };
}

/**
 * The geometric update C ← C·exp(−η_C·(b̄ − γ)), with b̄ the (noisy) fraction of this round's updates whose
 * norm was ≤ C: the clip grows when fewer than γ fall within it and shrinks when more do. Returns a new state.
 */
export function updateAdaptiveClip(state: AdaptiveClipState, fractionBelow: number, o: AdaptiveClipOptions): AdaptiveClipState {
  if (!(o.targetQuantile >= 0 && o.targetQuantile <= 1)) throw new FedtuneError('config', `target quantile must be in [0, 1], got ${o.targetQuantile}`);
  if (!(Number.isFinite(o.learningRate) && o.learningRate > 0)) throw new FedtuneError('config', `clip learning rate must be > 0, got ${o.learningRate}`);
  if (!Number.isFinite(fractionBelow)) throw new FedtuneError('non_finite', 'fraction below the clip is not finite');
  return { clip: state.clip * Math.exp(-o.learningRate * (fractionBelow - o.targetQuantile)), rounds: state.rounds + 1 };
}

/**
 * The private estimate b̄ of the fraction within the clip (Andrew et al. 2021, Alg. 1): each site
 * contributes b_i − ½ with b_i = 1 if its norm was ≤ C (sensitivity ½), the sum gets N(0, σ_b²) noise and is
 * divided by the expected number of sites m: b̄ = (Σ(b_i − ½) + N(0, σ_b²))/m + ½. The paper suggests
 * σ_b = m/20. `countBelow`: Σ b_i over the n sites that reported.
 */
export function noisyFractionBelow(countBelow: number, reported: number, expectedSites: number, countNoiseStd: number, rng: NormalSource): number {
  if (!(expectedSites > 0)) throw new FedtuneError('config', `expected sites must be > 0, got ${expectedSites}`);
  if (!(countNoiseStd >= 0)) throw new FedtuneError('config', `count noise std must be ≥ 0, got ${countNoiseStd}`);
  return (countBelow - reported / 2 + countNoiseStd * rng.normal()) / expectedSites + 0.5;
}

/**
 * Noise multiplier left for the update sum when the clipped-count query with noise σ_b is released in the
 * same round, so that the pair is as private as one Gaussian mechanism with multiplier z (Andrew et al. 2021,
 * Thm. 1): z_Δ = (z⁻² − (2σ_b)⁻²)^(−½). Account the round with `z`, add noise with `z_Δ`. Needs 2σ_b > z.
 */
export function adaptiveClipUpdateNoiseMultiplier(noiseMultiplier: number, countNoiseStd: number): number {
  const inv = noiseMultiplier ** -2 - (2 * countNoiseStd) ** -2;
  if (!(noiseMultiplier > 0) || !(inv > 0)) {
    throw new FedtuneError('config', `adaptive clipping needs 2·σ_b > z (σ_b = ${countNoiseStd}, z = ${noiseMultiplier})`);
  }
  return inv ** -0.5;
}
