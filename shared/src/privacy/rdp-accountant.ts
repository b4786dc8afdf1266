/**
 * Rényi-DP accountant for the sampled Gaussian mechanism (SGM).
 *
 * One step of the SGM: sample each record (or site) independently with probability q, add the clipped
 * contributions of the sample and Gaussian noise of standard deviation z·C (z the noise multiplier, C the
 * clipping norm). Its RDP at order α (Mironov 2017, Def. 3) is computed as in Mironov, Talwar & Zhang 2019,
 * "Rényi Differential Privacy of the Sampled Gaussian Mechanism", §3.3 — the same log-space series that
 * TensorFlow Privacy and Opacus (`opacus/accountants/analysis/rdp.py`) evaluate:
 *   - integer α: A_α = Σ_{i=0..α} C(α,i) (1−q)^(α−i) q^i exp((i²−i)/(2z²)), exact finite sum;
 *   - fractional α: the two infinite series with erfc tails around z₀ = z² log(1/q − 1) + ½, summed
 *     until both terms fall below e^−30;
 *   - RDP(α) = log(A_α)/(α−1); q = 1 gives the Gaussian mechanism's closed form α/(2z²); q = 0 gives 0.
 * RDP composes additively over steps (Mironov 2017, Prop. 1).
 *
 * Conversion to (ε, δ)-DP, minimised over the orders:
 *   - 'improved' (default): ε = RDP(α) + log((α−1)/α) − (log δ + log α)/(α−1)
 *     (Balle, Barthe, Gaboardi, Hsu & Sato 2020, "Hypothesis Testing Interpretations and Rényi Differential
 *     Privacy", Thm. 21; also Canonne, Kamath & Steinke 2020, Prop. 12). This is what Opacus's
 *     `get_privacy_spent` and current TF-Privacy compute;
 *   - 'classic': ε = RDP(α) − log δ/(α−1) (Mironov 2017, Prop. 3), the bound TF-Privacy's tutorials used
 *     when they published their ε; it is never smaller than the improved one.
 * Both are clamped at 0.
 */
import { FedtuneError } from '../errors.ts';
import { logAdd, logErfc, logSub } from './log-math.ts';

export type RdpConversion = 'improved' | 'classic';

/** The δ a privacy guarantee is stated at when none is given: client-level DP's (RunConfig `dp.delta`) and `fedtune dp-epsilon`'s. */
export const DEFAULT_DP_DELTA = 1e-5;

/**
 * Default orders: a fine grid near 1 (where small ε are decided), every integer to 64, then a few large
 * orders (where very small δ or few steps are decided). More orders only tighten the minimum.
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => Math.round((1.1 + k / 10) * 10) / 10), // 1.1 … 10.9
  ...Array.from({ length: 54 }, (_, k) => 11 + k), // 11 … 64
  80, 96, 128, 256, 512,
]);

function checkMechanism(samplingRate: number, noiseMultiplier: number): void {
  if (!(Number.isFinite(samplingRate) && samplingRate >= 0 && samplingRate <= 1)) {
    throw new FedtuneError('config', `sampling rate must be a number in [0, 1], got ${samplingRate}`);
  }
  if (!(Number.isFinite(noiseMultiplier) && noiseMultiplier >= 0)) {
    throw new FedtuneError('config', `noise multiplier must be a finite number ≥ 0, got ${noiseMultiplier}`);
  }
}

function checkOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new FedtuneError('config', 'at least one RDP order is needed');
  for (const a of orders) {
    if (!(Number.isFinite(a) && a > 1)) throw new FedtuneError('config', `RDP orders must be finite numbers > 1, got ${a}`);
  }
}

/** log A_α for integer α ≥ 2 (finite binomial sum). */
function logAInteger(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logA = -Infinity;
  let logBinom = 0; // log C(α, 0)
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log((alpha - i + 1) / i);
    const s = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / (2 * z * z);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log A_α for fractional α (two series with erfc tails, Mironov et al. 2019 §3.3). */
function logAFractional(q: number, z: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const sqrt2z = Math.SQRT2 * z;
  let logAbsCoef = 0; // log |C(α, 0)|
  let sign = 1;
  for (let i = 0; ; i++) {
    if (i > 0) {
      const factor = (alpha - i + 1) / i;
      // Stryker disable next-line EqualityOperator: equivalent: factor = 0 needs an integer α, which logAInteger takes.
      if (factor < 0) sign = -sign;
      logAbsCoef += Math.log(Math.abs(factor));
    }
    const j = alpha - i;
    const logT0 = logAbsCoef + i * logQ + j * log1mQ;
    const logT1 = logAbsCoef + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2z);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2z);
    const logS0 = logT0 + (i * i - i) / (2 * z * z) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * z * z) + logE1;
    // Stryker disable next-line EqualityOperator: equivalent: sign is ±1.
    if (sign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    // Stryker disable next-line EqualityOperator: equivalent: stopping at exactly −30 or one term later changes A by < e^−30 of itself.
    if (Math.max(logS0, logS1) < -30) break;
    // Stryker disable next-line all: unreachable for valid q, z and α (the terms decay geometrically); a guard against a runaway loop.
    if (i > 100_000) throw new FedtuneError('internal', `RDP series did not converge (q=${q}, z=${z}, α=${alpha})`);
  }
  return logAdd(logA0, logA1);
}

/** RDP of one step of the sampled Gaussian mechanism at order α (> 1). */
export function sampledGaussianRdp(samplingRate: number, noiseMultiplier: number, order: number): number {
  checkMechanism(samplingRate, noiseMultiplier);
  checkOrders([order]);
  const q = samplingRate;
  const z = noiseMultiplier;
  if (q === 0) return 0;
  if (z === 0) return Infinity;
  if (q === 1) return order / (2 * z * z);
  const logA = Number.isInteger(order) ? logAInteger(q, z, order) : logAFractional(q, z, order);
  return logA / (order - 1);
}

/** RDP of `steps` compositions of the sampled Gaussian mechanism, one value per order. */
export function computeRdp(samplingRate: number, noiseMultiplier: number, steps: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): number[] {
  if (!(Number.isInteger(steps) && steps >= 0)) throw new FedtuneError('config', `steps must be an integer ≥ 0, got ${steps}`);
  checkOrders(orders);
  return orders.map((a) => (steps === 0 ? 0 : steps * sampledGaussianRdp(samplingRate, noiseMultiplier, a)));
}

export interface EpsilonResult {
  epsilon: number;
  /** The RDP order at which the minimum was attained (NaN when ε is infinite at every order). */
  order: number;
}

/** Converts RDP values (one per order) to the smallest ε at the given δ. */
// Stryker disable next-line StringLiteral: equivalent: every conversion but 'classic' is the improved one.
export function rdpToEpsilon(orders: readonly number[], rdp: readonly number[], delta: number, conversion: RdpConversion = 'improved'): EpsilonResult {
  checkOrders(orders);
  if (orders.length !== rdp.length) throw new FedtuneError('config', 'orders and RDP values differ in length');
  if (!(Number.isFinite(delta) && delta > 0 && delta < 1)) throw new FedtuneError('config', `delta must be a number in (0, 1), got ${delta}`);
  let best: EpsilonResult = { epsilon: Infinity, order: NaN };
  const logDelta = Math.log(delta);
  // Stryker disable next-line EqualityOperator: equivalent: one more pass reads undefined, which the NaN guard skips.
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k];
    const r = rdp[k];
    if (!(r >= 0)) continue; // NaN guard; RDP is never negative
    const eps = conversion === 'classic' ? r - logDelta / (a - 1) : r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  // Stryker disable next-line EqualityOperator: equivalent: ε = 0 is replaced by itself.
  if (best.epsilon < 0) best = { epsilon: 0, order: best.order };
  return best;
}

export interface ComputeEpsilonOptions {
  samplingRate: number;
  noiseMultiplier: number;
  steps: number;
  delta: number;
  orders?: readonly number[];
  conversion?: RdpConversion;
}

/** ε(δ) after `steps` steps of the sampled Gaussian mechanism with rate q and noise multiplier z. */
export function computeEpsilon(o: ComputeEpsilonOptions): EpsilonResult {
  const orders = o.orders ?? DEFAULT_RDP_ORDERS;
  return rdpToEpsilon(orders, computeRdp(o.samplingRate, o.noiseMultiplier, o.steps, orders), o.delta, o.conversion);
}

export interface NoiseForEpsilonOptions {
  samplingRate: number;
  steps: number;
  delta: number;
  targetEpsilon: number;
  orders?: readonly number[];
  conversion?: RdpConversion;
  /** Relative precision of the answer (default 1e-3). */
  tolerance?: number;
}

/** The smallest noise multiplier (to `tolerance`) whose ε(δ) after `steps` steps is ≤ targetEpsilon. */
export function noiseMultiplierForEpsilon(o: NoiseForEpsilonOptions): number {
  if (!(o.targetEpsilon > 0)) throw new FedtuneError('config', `target epsilon must be > 0, got ${o.targetEpsilon}`);
  const eps = (z: number) => computeEpsilon({ ...o, noiseMultiplier: z }).epsilon;
  let lo = 0;
  let hi = 1;
  while (eps(hi) > o.targetEpsilon) {
    lo = hi;
    hi *= 2;
    // Stryker disable next-line EqualityOperator: equivalent: hi is a power of two, never 1e6.
    if (hi > 1e6) throw new FedtuneError('config', `no noise multiplier ≤ 1e6 reaches ε = ${o.targetEpsilon}`);
  }
  const tol = o.tolerance ?? 1e-3;
  // Stryker disable next-line EqualityOperator: equivalent unless tol is a power of two: hi − lo is hi/2^k.
  while (hi - lo > tol * hi) {
    const mid = (lo + hi) / 2;
    // Stryker disable next-line EqualityOperator: equivalent: equality with the target at a bisection point has measure zero.
    if (eps(mid) > o.targetEpsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** One entry of the accountant's history: `steps` consecutive steps with the same mechanism. */
export interface RdpHistoryEntry {
  noiseMultiplier: number;
  samplingRate: number;
  steps: number;
}

/** The accountant's whole state as plain JSON: the orders and what was composed. RDP is recomputed on restore. */
export interface RdpAccountantState {
  version: 1;
  orders: number[];
  history: RdpHistoryEntry[];
}

/**
 * Composes sampled Gaussian steps and reports ε(δ). `state` is plain JSON (no Infinity even for z = 0) and
 * `RdpAccountant.fromState(state)` restores an equal accountant.
 */
export class RdpAccountant {
  private readonly orders: number[];
  private readonly rdp: number[];
  private readonly history: RdpHistoryEntry[] = [];
  /** RDP of one step of the last mechanism seen (rounds usually repeat it). */
  private perStep: { noiseMultiplier: number; samplingRate: number; rdp: number[] } | undefined;

  constructor(orders: readonly number[] = DEFAULT_RDP_ORDERS) {
    checkOrders(orders);
    this.orders = [...orders];
    this.rdp = this.orders.map(() => 0);
  }

  static fromState(state: RdpAccountantState): RdpAccountant {
    if (state?.version !== 1 || !Array.isArray(state.orders) || !Array.isArray(state.history)) {
      throw new FedtuneError('malformed_payload', 'not an RDP accountant state (version 1)');
    }
    const acc = new RdpAccountant(state.orders);
    for (const h of state.history) acc.step(h.noiseMultiplier, h.samplingRate, h.steps);
    return acc;
  }

  /** Records `steps` steps of the sampled Gaussian mechanism (noise multiplier z, sampling rate q). */
  step(noiseMultiplier: number, samplingRate: number, steps = 1): this {
    if (!(Number.isInteger(steps) && steps >= 0)) throw new FedtuneError('config', `steps must be an integer ≥ 0, got ${steps}`);
    // Stryker disable next-line ConditionalExpression: equivalent: recomputing every time gives the same values; the cache only saves the work.
    if (this.perStep?.noiseMultiplier !== noiseMultiplier || this.perStep.samplingRate !== samplingRate) {
      this.perStep = { noiseMultiplier, samplingRate, rdp: computeRdp(samplingRate, noiseMultiplier, 1, this.orders) };
    }
    if (steps === 0) return this;
    const one = this.perStep.rdp;
    for (let k = 0; k < one.length; k++) this.rdp[k] += steps * one[k];
    const last = this.history.at(-1);
    if (last && last.noiseMultiplier === noiseMultiplier && last.samplingRate === samplingRate) last.steps += steps;
    else this.history.push({ noiseMultiplier, samplingRate, steps });
    return this;
  }

  /** Total steps composed so far. */
  get steps(): number {
    return this.history.reduce((n, h) => n + h.steps, 0);
  }

  // Stryker disable next-line StringLiteral: equivalent, as in rdpToEpsilon.
  getEpsilon(delta: number, conversion: RdpConversion = 'improved'): EpsilonResult {
    return rdpToEpsilon(this.orders, this.rdp, delta, conversion);
  }

  /** The composed RDP per order (a copy). */
  getRdp(): { orders: number[]; rdp: number[] } {
    return { orders: [...this.orders], rdp: [...this.rdp] };
  }

  get state(): RdpAccountantState {
    return { version: 1, orders: [...this.orders], history: this.history.map((h) => ({ ...h })) };
  }
}
