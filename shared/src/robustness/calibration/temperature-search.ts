import { FedtuneError } from '../../errors.ts';

/**
 * Sums over a set of examples of the negative log-likelihood of softmax(β·z) at one inverse temperature
 * β = 1/T, and of its first and second derivatives in β. The NLL is convex in β (log-sum-exp of a linear
 * function), so `grad` is non-decreasing in β and `hess` ≥ 0. These sums are all a site ever sends for a
 * federated fit: they add up over sites to the sums of the union.
 */
export interface TemperatureStats {
  nll: number;
  grad: number;
  hess: number;
}

/** Range of fitted temperatures: T is clamped to [min, max]. */
export const TEMPERATURE_RANGE = { min: 0.01, max: 100 } as const;

/** Inverse temperatures of the first, bracketing query: log-spaced over the whole range. */
export const TEMPERATURE_GRID_SIZE = 17;

/** Most inverse temperatures one query may ask for (bounds what a site evaluates and sends). */
export const MAX_TEMPERATURE_QUERY = 32;

/** Newton/bisection steps after the grid: far more than the ~6 a well-posed fit takes. */
const MAX_REFINEMENTS = 100;

/**
 * The 1-D search for the temperature minimising the NLL, as a question-and-answer state machine, so the
 * same exact search runs on local logits (`fitTemperature`) and on sums the sites send (federated):
 * `next()` gives the inverse temperatures to evaluate, `feed()` takes the stats at them (summed over every
 * example), until `done`. First a log-spaced grid over the range brackets the minimum (the first β whose
 * gradient is ≥ 0), then safeguarded Newton steps in β (a bisection when Newton leaves the bracket) shrink
 * it to machine precision. A minimum outside the range ends at the nearer end.
 */
export class TemperatureSearch {
  private pending: number[] | undefined;
  private lo = 0;
  private hi = 0;
  private steps = 0;
  private beta: number | undefined;

  constructor(
    readonly range: { min: number; max: number } = TEMPERATURE_RANGE,
    gridSize: number = TEMPERATURE_GRID_SIZE,
  ) {
    if (!(range.min > 0) || !(range.max > range.min) || !Number.isFinite(range.max)) {
      throw new FedtuneError('config', `temperature range must satisfy 0 < min < max < ∞, got [${range.min}, ${range.max}]`);
    }
    if (!Number.isInteger(gridSize) || gridSize < 2 || gridSize > MAX_TEMPERATURE_QUERY) {
      throw new FedtuneError('config', `temperature grid size must be an integer in [2, ${MAX_TEMPERATURE_QUERY}], got ${gridSize}`);
    }
    const bLo = Math.log(1 / range.max);
    const bHi = Math.log(1 / range.min);
    this.pending = Array.from({ length: gridSize }, (_, i) => Math.exp(bLo + ((bHi - bLo) * i) / (gridSize - 1)));
    this.pending[0] = 1 / range.max;
    this.pending[gridSize - 1] = 1 / range.min;
  }

  get done(): boolean {
    return this.beta !== undefined;
  }

  /** The fitted temperature (after `done`). */
  get temperature(): number {
    if (this.beta === undefined) throw new FedtuneError('internal', 'the temperature search has not finished');
    return Math.min(this.range.max, Math.max(this.range.min, 1 / this.beta));
  }

  /** The inverse temperatures to evaluate next, or undefined when done. */
  next(): readonly number[] | undefined {
    return this.done ? undefined : this.pending;
  }

  /** The stats at the inverse temperatures `next()` returned, in order. */
  feed(stats: readonly TemperatureStats[]): void {
    const asked = this.pending;
    if (!asked) throw new FedtuneError('internal', 'the temperature search asked for nothing');
    if (stats.length !== asked.length) throw new FedtuneError('internal', `the temperature search asked for ${asked.length} values, got ${stats.length}`);
    for (const s of stats) {
      if (!Number.isFinite(s.nll) || !Number.isFinite(s.grad) || !Number.isFinite(s.hess)) {
        throw new FedtuneError('non_finite', 'the NLL of the temperature fit is not finite');
      }
    }
    if (this.steps === 0) return this.bracket(asked, stats);
    this.refine(asked[0], stats[0]);
  }

  private finish(beta: number): void {
    this.beta = beta;
    this.pending = undefined;
  }

  private bracket(betas: readonly number[], stats: readonly TemperatureStats[]): void {
    this.steps = 1;
    const j = stats.findIndex((s) => s.grad >= 0);
    if (j === 0) return this.finish(betas[0]);
    // Stryker disable next-line EqualityOperator: equivalent: j = 0 has returned just above.
    if (j < 0) return this.finish(betas[betas.length - 1]);
    // Stryker disable next-line ConditionalExpression: equivalent: without it, Newton from β_j with a zero gradient does not move and ends the search at β_j.
    if (stats[j].grad === 0) return this.finish(betas[j]);
    this.lo = betas[j - 1];
    this.hi = betas[j];
    this.propose(betas[j], stats[j]);
  }

  private refine(x: number, s: TemperatureStats): void {
    this.steps++;
    // Stryker disable next-line ConditionalExpression: equivalent: without it, Newton from x with a zero gradient does not move and ends the search at x.
    if (s.grad === 0) return this.finish(x);
    // Stryker disable next-line EqualityOperator: equivalent: a zero gradient has ended the search just above
    if (s.grad < 0) this.lo = x;
    else this.hi = x;
    this.propose(x, s);
  }

  /** The next point: Newton from x when it lands strictly inside the bracket, else the bracket's midpoint. */
  private propose(x: number, s: TemperatureStats): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: the sums' curvature is ≥ 0 (schema), and at 0 Newton's ±∞ is outside the bracket anyway
    const newton = s.hess > 0 ? x - s.grad / s.hess : NaN;
    // A Newton step below the tolerance ends the search, even when rounding puts it on the bracket's end (else
    // ~45 bisections followed, each a round trip to every site in a federated fit).
    // Stryker disable next-line EqualityOperator,ArithmeticOperator: equivalent: a step within (1e-14/x, 1e-14·x], or of exactly 1e-14·x, from a bracket end stays strictly inside the bracket, where the convergence test below ends the search at the same point.
    if (Math.abs(newton - x) <= 1e-14 * x) return this.finish(Math.min(this.hi, Math.max(this.lo, newton)));
    const inside = newton > this.lo && newton < this.hi;
    const next = inside ? newton : (this.lo + this.hi) / 2;
    const converged =
      // Stryker disable next-line EqualityOperator: equivalent: `<` for `≤` on a tolerance of 1e-14 changes no result
      Math.abs(next - x) <= 1e-14 * x ||
      // Stryker disable next-line all: equivalent: without the bracket-width test the step test above ends the search within 1e-14 relative of the same point, at the latest one step later (once the bracket is that narrow, so is any step inside it).
      this.hi - this.lo <= 1e-14 * this.hi ||
      this.steps > MAX_REFINEMENTS;
    if (converged) return this.finish(inside ? next : x);
    this.pending = [next];
  }
}
