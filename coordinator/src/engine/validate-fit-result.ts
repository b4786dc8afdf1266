import { assertSameLayout, decodeWeights, toFedtuneError, type FedtuneErrorCode, type FitResult, type WeightArrays, type WeightsManifest } from '@fedtune/shared';

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
}

export type FitResultVerdict =
  | { ok: true; weights: WeightArrays; numExamples: number; /** ‖weights − global‖, when `global` was given. */ norm?: number }
  | { ok: false; code: FedtuneErrorCode; reason: string };

/** The first non-finite value's position, if any. */
export function firstNonFinite(arrays: WeightArrays): { tensor: number; index: number } | undefined {
  for (let t = 0; t < arrays.length; t++) {
    const a = arrays[t];
    for (let i = 0; i < a.length; i++) {
      // v - v is NaN exactly when v is NaN or ±Infinity.
      if (a[i] - a[i] !== 0) return { tensor: t, index: i };
    }
  }
  return undefined;
}

/** L2 norm of (weights − global) over all tensors. */
export function deltaNorm(weights: WeightArrays, global: WeightArrays): number {
  let sum = 0;
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    const g = global[t];
    for (let i = 0; i < w.length; i++) {
      const d = w[i] - g[i];
      sum += d * d;
    }
  }
  return Math.sqrt(sum);
}

/**
 * Checks one site's fit result before any strategy sees it. Returns the decoded weights, or a typed code
 * and a reason. Pure: the caller records the verdict.
 */
export function validateFitResult(siteId: string, result: FitResult, ctx: FitResultContext): FitResultVerdict {
  if (result.runId !== ctx.runId) return { ok: false, code: 'stale_round', reason: `result is for run ${result.runId}, this run is ${ctx.runId}` };
  if (result.round !== ctx.round) return { ok: false, code: 'stale_round', reason: `result is for round ${result.round}, the current round is ${ctx.round}` };
  if (!ctx.selected.has(siteId)) return { ok: false, code: 'not_selected', reason: `site ${siteId} was not selected for round ${ctx.round}` };
  if (ctx.alreadyReceived.has(siteId)) return { ok: false, code: 'duplicate_result', reason: `site ${siteId} already sent a result for round ${ctx.round}` };
  if (result.weights.byteLength > ctx.maxUpdateBytes) {
    return { ok: false, code: 'payload_too_large', reason: `update is ${result.weights.byteLength} bytes, the limit is ${ctx.maxUpdateBytes}` };
  }
  const n = result.numExamples;
  if (!Number.isInteger(n) || n <= 0 || n > ctx.maxExamples) {
    return { ok: false, code: 'invalid_count', reason: `number of examples must be an integer in 1..${ctx.maxExamples}` };
  }
  // Stryker disable next-line ConditionalExpression: equivalent: with no announced count `n > undefined` is false anyway.
  if (ctx.announced !== undefined && n > ctx.announced) {
    return { ok: false, code: 'invalid_count', reason: `site ${siteId} claims more examples than the ${ctx.announced} it announced at hello` };
  }
  let weights;
  try {
    weights = decodeWeights(result.weights);
    assertSameLayout(ctx.manifest, weights);
  } catch (err) {
    // Stryker disable next-line StringLiteral: equivalent: decodeWeights and assertSameLayout throw only FedtuneErrors (tests/fuzz/weights-codec-properties.test.ts), so this fallback code is never used.
    const e = toFedtuneError(err, 'malformed_payload');
    return { ok: false, code: e.code === 'codec' ? 'malformed_payload' : e.code, reason: e.message };
  }
  const bad = firstNonFinite(weights.arrays);
  if (bad) {
    // Stryker disable next-line OptionalChaining,StringLiteral: equivalent: assertSameLayout has checked that every tensor has its manifest entry and name, so the fallback is unreachable.
    const name = ctx.manifest[bad.tensor]?.name ?? `#${bad.tensor}`;
    return { ok: false, code: 'non_finite', reason: `update has a non-finite value (${weights.arrays[bad.tensor][bad.index]}) in ${name} at index ${bad.index}` };
  }
  const norm = ctx.global ? deltaNorm(weights.arrays, ctx.global) : undefined;
  if (ctx.maxUpdateNorm !== undefined && norm !== undefined && !(norm <= ctx.maxUpdateNorm)) {
    return { ok: false, code: 'update_norm', reason: `update norm ${norm.toPrecision(4)} exceeds the bound ${ctx.maxUpdateNorm}` };
  }
  return { ok: true, weights: weights.arrays, numExamples: n, norm };
}
