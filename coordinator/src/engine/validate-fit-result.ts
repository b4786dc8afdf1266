import { claimedExampleCountError } from './claimed-example-count.ts';
import { deltaNormCheckedWasm } from './delta-norm/delta-norm-wasm.ts';
import { assertSameLayout, decodeUpdate, oneLine, toFedtuneError, type UpdateEncoding, type FedtuneErrorCode, type FitResult, type WeightArrays, type WeightsManifest } from '@fedtune/shared';

export interface FitResultContext {
  runId: string;
  round: number;
  selected: ReadonlySet<string>;
  alreadyReceived: { has(siteId: string): boolean };
  manifest: WeightsManifest;
  /** The run-wide cap on a claimed example count. */
  maxExamples: number;
  /** What the site announced at hello: it may claim no more for an update. */
  announced?: number;
  maxUpdateBytes: number;
  /** The current global weights, needed for the norm bound. */
  global?: WeightArrays;
  maxUpdateNorm?: number;
  /**
   * Values with |w| above this are refused ('non_finite'): the streaming FedAvg's accepted range
   * (StreamingFedAvg.maxAbs), given when the round streams. Checked in the same pass as the norm.
   */
  maxAbs?: number;
  /** The run's update encoding (absent: float32); fp16/int8 updates are deltas, decoded against `global`. */
  updateEncoding?: UpdateEncoding;
}

export type FitResultVerdict =
  | { ok: true; weights: WeightArrays; numExamples: number; /** ‖weights − global‖, when `global` was given. */ norm?: number }
  | { ok: false; code: FedtuneErrorCode; reason: string };

/** The first non-finite value's position, if any. */
export function firstNonFinite(arrays: WeightArrays): { tensor: number; index: number } | undefined {
  return firstOutOfRange(arrays, Infinity);
}

/** The first value that is not finite or whose magnitude is above `maxAbs`, if any. */
export function firstOutOfRange(arrays: WeightArrays, maxAbs: number): { tensor: number; index: number } | undefined {
  // The usual case, every value in range, in one SIMD pass (the weights against themselves: each difference is
  // 0 for a finite value and NaN otherwise); the loop below only finds where the first bad value is. Called
  // once per round on the aggregate, so a JS loop there would mostly run unoptimized.
  // Stryker disable next-line ConditionalExpression: equivalent but for speed: the loop below finds nothing in range either.
  if (deltaNormChecked(arrays, arrays, maxAbs).inRange) return undefined;
  // Stryker disable next-line EqualityOperator: equivalent: the loop runs only when a bad value exists, and returns at it.
  for (let t = 0; t < arrays.length; t++) {
    const a = arrays[t];
    for (let i = 0; i < a.length; i++) {
      // Stryker disable next-line EqualityOperator: equivalent: |v| < Infinity and |v| <= Infinity differ only for ±Infinity, which `v - v === 0` refuses too.
      if (!(Math.abs(a[i]) <= maxAbs && a[i] - a[i] === 0)) return { tensor: t, index: i };
    }
  }
  return undefined;
}

/** L2 norm of (weights − global) over all tensors. */
export function deltaNorm(weights: WeightArrays, global: WeightArrays): number {
  return Math.sqrt(deltaNormChecked(weights, global, Infinity).sumOfSquares);
}

/**
 * ‖weights − global‖² and, in the same pass, whether every value is finite with |w| ≤ maxAbs (`inRange`):
 * the update's one read before the sum (no separate non-finite pass). On the wasm SIMD kernel
 * (delta-norm/delta-norm.wat) where it runs, else the JS loop; both give the same bits.
 */
export function deltaNormChecked(weights: WeightArrays, global: WeightArrays, maxAbs: number): { sumOfSquares: number; inRange: boolean } {
  // Stryker disable next-line LogicalOperator: equivalent: the JS loop gives the kernel's bits (delta-norm-wasm.test.ts).
  return deltaNormCheckedWasm(weights, global, maxAbs) ?? deltaNormCheckedJs(weights, global, maxAbs);
}

/**
 * deltaNormChecked in plain JS (the kernel's oracle and fallback): four values per step into four partial
 * sums (independent dependency chains: about twice the throughput of one running sum), then the rest of the
 * tensor one by one into the first. The wasm kernel keeps exactly these sums in this order.
 */
export function deltaNormCheckedJs(weights: WeightArrays, global: WeightArrays, maxAbs: number): { sumOfSquares: number; inRange: boolean } {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  // Math.max propagates NaN, so a NaN weight leaves `largest` NaN (out of range) as well as the sum.
  let m0 = 0;
  let m1 = 0;
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    const g = global[t];
    const n = w.length;
    let i = 0;
    for (; i + 3 < n; i += 4) {
      const v0 = w[i];
      const v1 = w[i + 1];
      const v2 = w[i + 2];
      const v3 = w[i + 3];
      const d0 = v0 - g[i];
      const d1 = v1 - g[i + 1];
      const d2 = v2 - g[i + 2];
      const d3 = v3 - g[i + 3];
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
      m0 = Math.max(m0, Math.abs(v0), Math.abs(v1));
      m1 = Math.max(m1, Math.abs(v2), Math.abs(v3));
    }
    for (; i < n; i++) {
      const v = w[i];
      const d = v - g[i];
      s0 += d * d;
      m0 = Math.max(m0, Math.abs(v));
    }
  }
  const sum = s0 + s1 + s2 + s3;
  // A finite sum of squares rules out NaN and ±Infinity in the weights (the global model is finite).
  return { sumOfSquares: sum, inRange: sum - sum === 0 && Math.max(m0, m1) <= maxAbs };
}

/**
 * Checks one site's fit result before any strategy sees it. Returns the decoded weights, or a typed code
 * and a reason. Pure: the caller records the verdict.
 */
export function validateFitResult(siteId: string, result: FitResult, ctx: FitResultContext): FitResultVerdict {
  if (result.runId !== ctx.runId) return { ok: false, code: 'stale_round', reason: `result is for run ${oneLine(result.runId, 128)}, this run is ${ctx.runId}` };
  if (result.round !== ctx.round) return { ok: false, code: 'stale_round', reason: `result is for round ${result.round}, the current round is ${ctx.round}` };
  if (!ctx.selected.has(siteId)) return { ok: false, code: 'not_selected', reason: `site ${siteId} was not selected for round ${ctx.round}` };
  if (ctx.alreadyReceived.has(siteId)) return { ok: false, code: 'duplicate_result', reason: `site ${siteId} already sent a result for round ${ctx.round}` };
  if (result.weights.byteLength > ctx.maxUpdateBytes) {
    return { ok: false, code: 'payload_too_large', reason: `update is ${result.weights.byteLength} bytes, the limit is ${ctx.maxUpdateBytes}` };
  }
  const n = result.numExamples;
  const countError = claimedExampleCountError(siteId, n, ctx.maxExamples, ctx.announced);
  if (countError !== undefined) return { ok: false, code: 'invalid_count', reason: countError };
  let weights;
  try {
    // Decoded once, here: every guard, strategy and DP path after this sees float32 weights.
    weights = decodeUpdate(result.weights, ctx.updateEncoding ?? 'float32', ctx.global);
    assertSameLayout(ctx.manifest, weights);
  } catch (err) {
    // Stryker disable next-line StringLiteral: equivalent: decodeWeights and assertSameLayout throw only FedtuneErrors (tests/fuzz/weights-codec-properties.test.ts), so this fallback code is never used.
    const e = toFedtuneError(err, 'malformed_payload');
    return { ok: false, code: e.code === 'codec' ? 'malformed_payload' : e.code, reason: e.message };
  }
  const maxAbs = ctx.maxAbs ?? Infinity;
  // One pass: the norm with the range check folded in (with a global model), else the range check alone.
  const checked = ctx.global ? deltaNormChecked(weights.arrays, ctx.global, maxAbs) : undefined;
  const bad = checked?.inRange ? undefined : firstOutOfRange(weights.arrays, maxAbs);
  if (bad) {
    // Stryker disable next-line OptionalChaining,StringLiteral: equivalent: assertSameLayout has checked that every tensor has its manifest entry and name, so the fallback is unreachable.
    const name = ctx.manifest[bad.tensor]?.name ?? `#${bad.tensor}`;
    const v = weights.arrays[bad.tensor][bad.index];
    const what = Number.isFinite(v) ? `a value (${v}) outside ±${maxAbs}` : `a non-finite value (${v})`;
    return { ok: false, code: 'non_finite', reason: `update has ${what} in ${name} at index ${bad.index}` };
  }
  const norm = checked ? Math.sqrt(checked.sumOfSquares) : undefined;
  if (ctx.maxUpdateNorm !== undefined && norm !== undefined && !(norm <= ctx.maxUpdateNorm)) {
    return { ok: false, code: 'update_norm', reason: `update norm ${norm.toPrecision(4)} exceeds the bound ${ctx.maxUpdateNorm}` };
  }
  return { ok: true, weights: weights.arrays, numExamples: n, norm };
}
