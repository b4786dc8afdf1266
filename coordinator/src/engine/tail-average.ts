import type { WeightArrays } from '@fedtune/shared';

/** What a checkpoint keeps of a TailAverage: the rounds summed so far and their sums (float64). */
export interface TailAverageState {
  count: number;
  sums: Float64Array[];
}

/**
 * The run's final model as the mean of the global models of its last `window` rounds (`averageRounds`: stochastic
 * weight averaging over rounds, Izmailov et al. 2018; in adversarial training weight averaging adds robust accuracy,
 * Gowal et al. 2020). Training is untouched: sites always train from the round's own aggregate; only the model the
 * run ends with — evaluated, calibrated, saved, personalised — is the average. Sums are float64, so the mean does
 * not depend on the order of the rounds beyond float32's last bit.
 */
export class TailAverage {
  private count: number;
  private sums: Float64Array[] | undefined;

  constructor(
    /** Rounds averaged (1: the last round's model, no averaging). */
    readonly window: number,
    /** The run's length: the window is its last `window` rounds. */
    private readonly rounds: number,
    state?: TailAverageState,
  ) {
    this.count = state?.count ?? 0;
    this.sums = state?.sums.map((s) => Float64Array.from(s));
  }

  /** The first round whose model is in the average. */
  get firstRound(): number {
    return Math.max(1, this.rounds - this.window + 1);
  }

  /** Adds the global model after `round` when that round is in the window (a no-op without averaging). */
  add(round: number, weights: WeightArrays): void {
    if (this.window <= 1 || round < this.firstRound || round > this.rounds) return;
    this.sums ??= weights.map((w) => new Float64Array(w.length));
    weights.forEach((w, i) => {
      const s = this.sums![i];
      // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
      for (let j = 0; j < w.length; j++) s[j] += w[j];
    });
    this.count++;
  }

  /** Rounds summed so far. */
  get averaged(): number {
    return this.count;
  }

  /** The mean of the models added (float32), or undefined when fewer than two were. */
  mean(): WeightArrays | undefined {
    if (!this.sums || this.count < 2) return undefined;
    return this.sums.map((s) => {
      const m = new Float32Array(s.length);
      // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
      for (let j = 0; j < s.length; j++) m[j] = s[j] / this.count;
      return m;
    });
  }

  /** For the checkpoint: undefined while nothing is summed. */
  get state(): TailAverageState | undefined {
    return this.sums ? { count: this.count, sums: this.sums } : undefined;
  }
}
