import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';

/**
 * FedAvg accumulated as results arrive, so the coordinator's memory does not grow with the number of
 * sites: each update is folded into a running Σ n_k·w_k and can be dropped at once.
 *
 * The sum is kept as an unevaluated double-double (hi + lo, renormalized after every add). n_k·w_k is exact
 * in float64 (24-bit float32 mantissa × an integer count < 2^29), and TwoSum keeps the running sum exact in
 * practice, so the result does not depend on the order in which updates arrive — the same property the
 * canonical-order FedAvg has, without holding every update.
 */
export class StreamingFedAvg {
  private readonly hi: Float64Array[];
  private readonly lo: Float64Array[];
  private total = 0;
  private added = 0;

  constructor(private readonly lengths: readonly number[]) {
    this.hi = lengths.map((n) => new Float64Array(n));
    this.lo = lengths.map((n) => new Float64Array(n));
  }

  get count(): number {
    return this.added;
  }

  /** Folds one update in. Throws FedtuneError('shape_mismatch' | 'invalid_count') and changes nothing on bad input. */
  add(weights: WeightArrays, numExamples: number): void {
    if (!Number.isInteger(numExamples) || numExamples <= 0 || numExamples >= 2 ** 29) {
      throw new FedtuneError('invalid_count', `number of examples must be an integer in 1..2^29, got ${numExamples}`);
    }
    if (weights.length !== this.lengths.length || weights.some((w, t) => w.length !== this.lengths[t])) {
      throw new FedtuneError('shape_mismatch', 'update does not have the global model’s layout');
    }
    const n = numExamples;
    for (let t = 0; t < weights.length; t++) {
      const w = weights[t];
      const hi = this.hi[t];
      const lo = this.lo[t];
      // Stryker disable next-line EqualityOperator: equivalent: one more pass reads undefined and writes past the end of typed arrays, which is ignored.
      for (let i = 0; i < w.length; i++) {
        const p = n * w[i];
        const a = hi[i];
        // TwoSum(a, p) = s + e exactly
        const s = a + p;
        const bb = s - a;
        const e = a - (s - bb) + (p - bb);
        // renormalize (s, lo + e)
        const l = lo[i] + e;
        const h = s + l;
        hi[i] = h;
        lo[i] = l - (h - s);
      }
    }
    this.total += n;
    this.added++;
  }

  /** The weighted average Σ n_k·w_k / Σ n_k, rounded once to float32. */
  result(): WeightArrays {
    if (this.added === 0) throw new FedtuneError('no_updates', 'cannot aggregate zero updates');
    const total = this.total;
    return this.hi.map((hi, t) => {
      const lo = this.lo[t];
      const out = new Float32Array(hi.length);
      // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
      for (let i = 0; i < hi.length; i++) out[i] = (hi[i] + lo[i]) / total;
      return out;
    });
  }
}
