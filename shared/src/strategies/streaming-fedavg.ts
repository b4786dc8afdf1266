import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { createJsSumKernel } from './streaming-sum/streaming-sum-js.ts';
import { createWasmSumKernel, wasmSumAvailable } from './streaming-sum/streaming-sum-wasm.ts';
import { canonicalize, SUM_PADDING, type SumKernel } from './streaming-sum/sum-kernel.ts';

/** Updates may hold values up to ±2^this by default (docs/performance.md#exact-streaming-fedavg). */
export const STREAMING_MAX_ABS_EXPONENT = 24;
/** The most updates one sum (with everything merged into it) holds: keeps the lo accumulators within i64. */
export const STREAMING_MAX_UPDATES = 2 ** 20;
/** The most examples one sum holds in total: keeps the hi accumulators within i64. */
export const STREAMING_MAX_TOTAL_EXAMPLES = 2 ** 41;

export interface StreamingFedAvgOptions {
  /** Values with |w| > 2^maxAbsExponent are refused ('non_finite'); sets the sum's grid. Integer in −64…126; default 24. */
  maxAbsExponent?: number;
  /** 'auto' (default): wasm SIMD where available, else JS. Both give bit-identical sums. */
  kernel?: 'auto' | 'wasm' | 'js';
}

/** A sum's whole state, to merge it elsewhere (`StreamingFedAvg.fromState`): plain data, structured-clone and JSON (after base64) safe. */
export interface StreamingFedAvgState {
  lengths: number[];
  maxAbsExponent: number;
  count: number;
  totalExamples: number;
  /** hi then lo accumulators, one little-endian i64 each per parameter: 16 × Σ lengths bytes. */
  sums: Uint8Array;
}

const WORD = 2 ** 32;

function notAState(why: string): FedtuneError {
  return new FedtuneError('malformed_payload', `not a streaming FedAvg state: ${why}`);
}

/** Checks a state's shape and counts (not its layout against a sum's); returns its parameter count. */
function checkState(state: StreamingFedAvgState): number {
  if (!Array.isArray(state.lengths) || !state.lengths.every((n) => Number.isSafeInteger(n) && n >= 0)) throw notAState('lengths must be non-negative integers');
  const p = state.lengths.reduce((a, b) => a + b, 0);
  if (!(state.sums instanceof Uint8Array) || state.sums.byteLength !== 16 * p) throw notAState(`sums must be ${16 * p} bytes`);
  const countOk = Number.isInteger(state.count) && state.count >= 0 && state.count <= STREAMING_MAX_UPDATES;
  const totalOk = Number.isInteger(state.totalExamples) && state.totalExamples >= state.count && state.totalExamples < STREAMING_MAX_TOTAL_EXAMPLES;
  if (!countOk || !totalOk || (state.count === 0) !== (state.totalExamples === 0)) throw notAState('count and totalExamples are not a sum’s');
  return p;
}

/**
 * dst[d…] += src[s…] for `pairs` little-endian i64s stored as (low, high) int32 pairs, wrapping like i64.
 * One small monomorphic loop (typed arrays in, integers only), so that V8 optimizes it on its first long run:
 * the leader calls it only a few times per round.
 */
function addWordPairs(dst: Int32Array, d: number, src: Int32Array, s: number, pairs: number): void {
  const end = d + 2 * pairs;
  // Stryker disable next-line EqualityOperator: equivalent: one pair past the parameters is a padding slot (capacity ≥ parameters + 1) or past the array's end; neither is read into a result or a state.
  for (let i = d, j = s; i < end; i += 2, j += 2) {
    const low = (dst[i] >>> 0) + (src[j] >>> 0);
    dst[i] = low | 0;
    dst[i + 1] = (dst[i + 1] + src[j + 1] + (low >= WORD ? 1 : 0)) | 0;
  }
}

/**
 * FedAvg accumulated as results arrive, so the coordinator's memory does not grow with the number of
 * sites: each update is folded into a running Σ n_k·w_k and can be dropped at once.
 *
 * The sum is EXACT integer arithmetic, so it is bit-identical for any arrival order and any split into
 * partial sums merged later (`merge`). With b = maxAbsExponent and G = b − 21, each term x = n·w·2^-G
 * (exact in float64) is split into h = round(x) and l = round((x − h)·2^43), added to two i64 accumulators
 * (hi in units of 2^G, lo in units of 2^(G−43)); rounding is to nearest even, and only l is rounded, so each
 * term is off by at most 2^(b−65) and the mean by at most 2^(b−65) (2^-41 ≈ 4.5e-13 by default), before the
 * one final rounding to float32 (≤ 1 ulp with it). The limits (|w| ≤ 2^b, n < 2^29, ≤ 2^20 updates, < 2^41
 * examples) keep every accumulator inside i64.
 *
 * Each update is copied into the kernel's staging memory (or decoded there in place: `updateArrays`) and
 * checked there: a NaN, ±Infinity or |w| > maxAbs refuses it ('non_finite') before it touches the sum.
 * An accepted update is added at once, in one pass over the staging slot and the sums (streaming-sum.wat);
 * the carry between the two words is deferred, and every read of the sum (`result`, `toState`, `merge`)
 * carries first.
 */
export class StreamingFedAvg {
  /** Values with |w| above this are refused. */
  readonly maxAbs: number;
  readonly maxAbsExponent: number;
  private readonly kernel: SumKernel;
  private readonly offsets: number[];
  private readonly parameters: number;
  private readonly capacity: number;
  /** 2^-G: the weight of one example in the hi units. */
  private readonly unit: number;
  private total = 0;
  /** mergeState's copy of a state's words (made canonical there), reused. */
  private scratch?: Int32Array;
  private added = 0;
  /** updateArrays()'s views of the kernel's staging area, kept while it is the same. */
  private views?: { area: Float32Array; arrays: WeightArrays };

  constructor(
    private readonly lengths: readonly number[],
    options: StreamingFedAvgOptions = {},
  ) {
    const b = options.maxAbsExponent ?? STREAMING_MAX_ABS_EXPONENT;
    if (!Number.isInteger(b) || b < -64 || b > 126) throw new FedtuneError('config', `maxAbsExponent must be an integer in -64..126, got ${b}`);
    this.maxAbsExponent = b;
    this.maxAbs = 2 ** b;
    this.unit = 2 ** -(b - 21);
    this.offsets = [];
    let p = 0;
    for (const n of lengths) {
      this.offsets.push(p);
      p += n;
    }
    this.parameters = p;
    this.capacity = p + SUM_PADDING;
    const kind = options.kernel ?? 'auto';
    const wasm = kind === 'wasm' || (kind === 'auto' && wasmSumAvailable());
    this.kernel = wasm ? createWasmSumKernel(this.capacity) : createJsSumKernel(this.capacity);
  }

  /** Which kernel sums: 'wasm' (SIMD) or 'js'. */
  get kernelKind(): 'wasm' | 'js' {
    return this.kernel.kind;
  }

  get count(): number {
    return this.added;
  }

  get totalExamples(): number {
    return this.total;
  }

  /**
   * Folds one update in. Throws FedtuneError 'shape_mismatch', 'invalid_count' (count, or the sum's limits)
   * or 'non_finite' (NaN, ±Infinity or |w| > maxAbs, with the first such value's position) and then has
   * changed nothing.
   */
  add(weights: WeightArrays, numExamples: number): void {
    if (!Number.isInteger(numExamples) || numExamples <= 0 || numExamples >= 2 ** 29) {
      throw new FedtuneError('invalid_count', `number of examples must be an integer in 1..2^29, got ${numExamples}`);
    }
    if (weights.length !== this.lengths.length || weights.some((w, t) => w.length !== this.lengths[t])) {
      throw new FedtuneError('shape_mismatch', 'update does not have the global model’s layout');
    }
    this.checkLimits(1, numExamples);
    let maxAbs = 0;
    for (let t = 0; t < weights.length; t++) {
      const m = this.kernel.stage(weights[t], this.offsets[t]);
      if (!(m <= this.maxAbs)) {
        this.kernel.discard();
        throw this.badValue(weights, t);
      }
      maxAbs = Math.max(maxAbs, m);
    }
    this.kernel.commit(numExamples * this.unit, maxAbs);
    this.total += numExamples;
    this.added++;
  }

  /**
   * Arrays to decode the next update into, one per tensor (the global model's layout): `add` then takes them
   * without a copy (wasm kernel; the JS one copies nothing anyway). They are reused: write an update into
   * them only when the previous `add` has returned or thrown, and do not keep them.
   */
  updateArrays(): WeightArrays {
    const area = this.kernel.stagingArea();
    // The wasm kernel's slot is the same array every time: its views are made once.
    // Stryker disable next-line ConditionalExpression: equivalent but for speed: views made anew each time are the same views.
    if (this.views?.area !== area) this.views = { area, arrays: this.lengths.map((n, t) => area.subarray(this.offsets[t], this.offsets[t] + n)) };
    return this.views.arrays;
  }

  /** Empties the sum (no updates, no examples) and keeps its memory: the next round's sum without a new one. */
  reset(): void {
    this.kernel.reset();
    this.total = 0;
    this.added = 0;
  }

  /** Folds another sum (same layout and grid) into this one, exactly: the result is as if its updates had been added here. */
  merge(other: StreamingFedAvg): void {
    if (other === this) throw new FedtuneError('config', 'cannot merge a sum into itself');
    if (other.lengths.length !== this.lengths.length || other.lengths.some((n, t) => n !== this.lengths[t])) {
      throw new FedtuneError('shape_mismatch', 'the other sum does not have this sum’s layout');
    }
    if (other.maxAbsExponent !== this.maxAbsExponent) {
      throw new FedtuneError('config', `the other sum's grid (maxAbsExponent ${other.maxAbsExponent}) is not this sum's (${this.maxAbsExponent})`);
    }
    this.checkLimits(other.added, other.total);
    this.kernel.flush();
    other.kernel.flush();
    this.mergeWords(other.kernel.words, other.capacity);
    canonicalize(this.kernel.words, this.capacity);
    this.total += other.total;
    this.added += other.added;
  }

  /** The sum's state, to be restored with `fromState` (another process, another coordinator) and merged there. */
  toState(): StreamingFedAvgState {
    this.kernel.flush();
    const p = this.parameters;
    const words = new Int32Array(4 * p);
    words.set(this.kernel.words.subarray(0, 2 * p));
    words.set(this.kernel.words.subarray(2 * this.capacity, 2 * this.capacity + 2 * p), 2 * p);
    return { lengths: [...this.lengths], maxAbsExponent: this.maxAbsExponent, count: this.added, totalExamples: this.total, sums: new Uint8Array(words.buffer) };
  }

  /** A sum from `toState`'s output. Throws FedtuneError 'malformed_payload' on a state that is not one. */
  static fromState(state: StreamingFedAvgState, options: Pick<StreamingFedAvgOptions, 'kernel'> = {}): StreamingFedAvg {
    const p = checkState(state);
    let s: StreamingFedAvg;
    try {
      s = new StreamingFedAvg(state.lengths, { maxAbsExponent: state.maxAbsExponent, kernel: options.kernel });
    } catch (err) {
      throw notAState(err instanceof Error ? err.message : String(err));
    }
    const words = new Int32Array(state.sums.slice().buffer);
    s.kernel.words.set(words.subarray(0, 2 * p));
    s.kernel.words.set(words.subarray(2 * p), 2 * s.capacity);
    // A state from toState is canonical already; one from elsewhere is made so (the same integers).
    canonicalize(s.kernel.words, s.capacity);
    s.added = state.count;
    s.total = state.totalExamples;
    return s;
  }

  /**
   * Folds a state from `toState` (another process's sum, same layout and grid) into this sum, exactly: the
   * same result as `merge(StreamingFedAvg.fromState(state))`, without building a second sum (no second
   * kernel, no second wasm memory): the coordinator cluster's leader merges every follower's partial this way.
   * Throws 'malformed_payload' on a state that is not one, 'shape_mismatch' on another layout, 'config' on
   * another grid, 'invalid_count' past the limits; the sum is unchanged when it throws.
   */
  mergeState(state: StreamingFedAvgState): void {
    const p = checkState(state);
    if (state.lengths.length !== this.lengths.length || state.lengths.some((n, t) => n !== this.lengths[t])) {
      throw new FedtuneError('shape_mismatch', 'the other sum does not have this sum’s layout');
    }
    if (state.maxAbsExponent !== this.maxAbsExponent) {
      throw new FedtuneError('config', `the other sum's grid (maxAbsExponent ${String(state.maxAbsExponent).slice(0, 32)}) is not this sum's (${this.maxAbsExponent})`);
    }
    this.checkLimits(state.count, state.totalExamples);
    // The copy is packed (hi words then lo words, p pairs each): canonical, each lo is below 2^43, so the
    // sums below stay inside i64 whatever the state held.
    // Into this sum's scratch copy (kept: the leader merges a partial per follower per round).
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: p is this sum's own parameter count (the layout was checked), so a scratch copy once made always fits; a new one each time gives the same words.
    if (!this.scratch || this.scratch.length !== 4 * p) this.scratch = new Int32Array(4 * p);
    const words = this.scratch;
    new Uint8Array(words.buffer).set(state.sums);
    canonicalize(words, p);
    this.kernel.flush();
    const dst = this.kernel.words;
    addWordPairs(dst, 0, words, 0, p);
    addWordPairs(dst, 2 * this.capacity, words, 2 * p, p);
    canonicalize(dst, this.capacity);
    this.total += state.totalExamples;
    this.added += state.count;
  }

  /** The weighted average Σ n_k·w_k / Σ n_k, rounded once to float32. */
  result(): WeightArrays {
    if (this.added === 0) throw new FedtuneError('no_updates', 'cannot aggregate zero updates');
    // (H + L·2^-43)·2^G is the sum Σ n_k·w_k (in the grid), so the mean is that times 2^G / Σ n_k.
    const scale = 1 / this.unit / this.total;
    this.kernel.flush();
    return this.lengths.map((n, t) => this.kernel.mean(this.offsets[t], n, scale));
  }

  private checkLimits(updates: number, examples: number): void {
    if (this.added + updates > STREAMING_MAX_UPDATES || this.total + examples >= STREAMING_MAX_TOTAL_EXAMPLES) {
      throw new FedtuneError('invalid_count', `one streaming sum holds at most 2^20 updates and fewer than 2^41 examples`);
    }
  }

  private mergeWords(src: Int32Array, srcCapacity: number): void {
    addWordPairs(this.kernel.words, 0, src, 0, this.parameters);
    addWordPairs(this.kernel.words, 2 * this.capacity, src, 2 * srcCapacity, this.parameters);
  }

  private badValue(weights: WeightArrays, from: number): FedtuneError {
    // Stryker disable next-line EqualityOperator,UpdateOperator: equivalent: `from` is the tensor whose check failed, so the loop returns inside it.
    for (let t = from; t < weights.length; t++) {
      const w = weights[t];
      // Stryker disable next-line EqualityOperator: equivalent: as above, the bad value is found before the tensor's end.
      for (let i = 0; i < w.length; i++) {
        const v = w[i];
        if (Math.abs(v) <= this.maxAbs) continue;
        const what = Number.isFinite(v) ? `a value (${v}) outside ±2^${this.maxAbsExponent}` : `a non-finite value (${v})`;
        return new FedtuneError('non_finite', `update has ${what} in tensor ${t} at index ${i}`);
      }
    }
    // Stryker disable next-line all: unreachable: the kernel flagged tensor `from`, so the loop above returns.
    return new FedtuneError('internal', 'the sum flagged a value the scan did not find');
  }
}
