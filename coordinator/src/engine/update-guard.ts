import type { RejectionRecord } from '@fedtune/shared';
import type { AcceptedUpdate, RoundCollector } from './round-collector.ts';

/**
 * Poisoning-safe defaults for one round of plain updates (docs/robustness.md#poisoning-safe-defaults):
 *
 * - **Bounded weight.** A site's example count counts for at most `exampleWeightCap` × the lower median of
 *   the counts the round's selected sites announced at hello (each capped by the run's caps). Those counts
 *   are known before the round starts, so the cap is the same whatever order updates arrive in, and it
 *   works with the streaming sum. (A claim above the site's own announcement is refused earlier, in
 *   validate-fit-result.ts.)
 *
 * - **Adaptive norm bound.** An update whose delta norm ‖w − global‖ exceeds
 *   `bound = normBoundMultiple × max(previous round's median norm, this round's median norm)` is refused
 *   with 'update_norm'. The decision is a pure function of the round's full set of norms (and of the
 *   previous round's median, which the round record keeps, so a resumed run decides the same), so it does
 *   not depend on arrival order. It still works with plain FedAvg's order-independent streaming sum: an
 *   update whose norm is within `normBoundMultiple × previous median` is certain to be kept, so it is
 *   folded into the sum on arrival; only the others — the first round's, and in later rounds the rare
 *   large ones — are held until the round closes, when the bound is known and the kept ones are folded in.
 *   Honest rounds hold nothing after the first, so the coordinator's memory stays flat.
 *
 * The median is the lower median of the positive norms, used once there are at least three of them, so one
 * attacker can neither raise the bound while fewer than half the updates are its own, nor drive it to zero
 * with an unchanged (zero-delta) model (with exactly half, its small non-zero deltas are the lower median and
 * the bound refuses the honest half: the breaking point, docs/robustness.md#poisoning-safe-defaults); with fewer, only the previous round's median bounds the round (and
 * the adoption guard, model-adoption.ts, still refuses a model that collapses).
 */
export interface UpdateGuardOptions {
  /** 0 = no norm bound. */
  normBoundMultiple: number;
  /** 0 = no weight cap. */
  exampleWeightCap: number;
  /** The previous round's lower median update norm, when known (the round record's `updateNorms.median`). */
  previousMedianNorm?: number;
  /** Example counts the selected sites announced at hello, already capped by the run's caps. */
  announced: readonly number[];
}

/** The ⌊(n−1)/2⌋-th smallest value (for two values, the smaller); undefined for none. */
export function lowerMedian(values: readonly number[]): number | undefined {
  // Stryker disable next-line ConditionalExpression: equivalent: without this line [][Math.floor(-1 / 2)] is [][-1], undefined all the same.
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Fewer positive norms than this, and the round's median is not used (one of two sites would set it). */
export const MIN_NORMS_FOR_MEDIAN = 3;

export interface NormDecision {
  /** The round's lower median update norm (undefined without updates). */
  median?: number;
  /** Updates whose norm is above this are refused (Infinity when the bound is off). */
  bound: number;
  /** Refused updates, in site-id order. */
  outliers: RejectionRecord[];
}

/** Site-id order (ids are distinct within a round). */
// Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent under V8's sort, which compares a later element with an earlier one: only `<` can reorder.
const bySiteIdOrder = (a: { siteId: string }, b: { siteId: string }): number => (a.siteId < b.siteId ? -1 : a.siteId > b.siteId ? 1 : 0);

export class UpdateGuard {
  /** An update whose norm is at most this is certain to be kept: it may be folded into a streaming sum on arrival. */
  readonly streamBound: number;
  /** The most examples one update counts for (Infinity when the cap is off). */
  readonly exampleCap: number;

  constructor(private readonly options: UpdateGuardOptions) {
    const k = options.normBoundMultiple;
    this.streamBound = k === 0 ? Infinity : options.previousMedianNorm !== undefined ? k * options.previousMedianNorm : 0;
    const median = lowerMedian(options.announced.filter((n) => n > 0));
    this.exampleCap = options.exampleWeightCap === 0 || median === undefined ? Infinity : Math.max(1, Math.floor(options.exampleWeightCap * median));
  }

  get normBoundActive(): boolean {
    return this.options.normBoundMultiple > 0;
  }

  /**
   * Whether an update of this norm is certain to be in the aggregate on arrival. Otherwise its verdict waits
   * for the round's close (`settle`): it is "held", and must not be reported as accepted before then.
   */
  certain(norm: number | undefined): boolean {
    return !this.normBoundActive || (norm ?? 0) <= this.streamBound;
  }

  /** The count an update's claimed examples weigh for in an average. */
  effectiveExamples(numExamples: number): number {
    return Math.min(numExamples, this.exampleCap);
  }

  /** How many of `accepted` the norm bound would keep if the round closed now (the quorum wait: round-collector.ts). */
  keptOf(accepted: Iterable<{ siteId: string; norm?: number }>): number {
    const norms = [...accepted].map((u) => ({ siteId: u.siteId, norm: u.norm ?? 0 }));
    return norms.length - this.decide(norms).outliers.length;
  }

  /** Decides on the round's full set of norms; `norms` in any order (the outliers come out in site-id order). */
  decide(norms: ReadonlyArray<{ siteId: string; norm: number }>): NormDecision {
    // Zero-delta updates (a site that did not train) say nothing about an honest update's size, and with
    // fewer than three updates one site would be the median: the round's own median needs three positive norms.
    const positive = norms.map((n) => n.norm).filter((n) => n > 0);
    const median = positive.length >= MIN_NORMS_FOR_MEDIAN ? lowerMedian(positive) : undefined;
    if (!this.normBoundActive || (median === undefined && this.streamBound === 0)) return { median, bound: Infinity, outliers: [] };
    const k = this.options.normBoundMultiple;
    const bound = Math.max(this.streamBound, median === undefined ? 0 : k * median);
    const outliers = norms
      .filter((n) => !(n.norm <= bound))
      .sort(bySiteIdOrder)
      .map((n) => ({
        siteId: n.siteId,
        code: 'update_norm',
        reason: `update norm ${n.norm.toPrecision(4)} exceeds the round's adaptive bound ${bound.toPrecision(4)} (${k} × ${median === undefined || this.streamBound > k * median ? "the previous round's median" : `median ${median.toPrecision(4)}`})`,
      }));
    return { median, bound, outliers };
  }

  /**
   * After the round closed: refuses the outliers (removed from `collector.accepted`) and folds the kept
   * held updates into the collector's aggregator, if any. Returns the decision.
   */
  settle(collector: RoundCollector): NormDecision {
    const all = [...collector.accepted.values()];
    const decision = this.decide(all.map((u) => ({ siteId: u.siteId, norm: u.norm ?? 0 })));
    for (const o of decision.outliers) collector.accepted.delete(o.siteId);
    // Stryker disable next-line ConditionalExpression: equivalent: without an aggregator no update is ever held, so the loop below has nothing to fold.
    if (collector.aggregator) {
      // Stryker disable next-line ArrowFunction,ConditionalExpression,EqualityOperator,UnaryOperator: equivalent: every aggregator is order-independent (round-aggregator.ts), so the order the held updates are folded in cannot change the weights.
      const bySiteId = (a: AcceptedUpdate, b: AcceptedUpdate) => (a.siteId < b.siteId ? -1 : 1);
      // Stryker disable next-line MethodExpression: equivalent: as above, the fold is order-independent.
      const held: AcceptedUpdate[] = all.filter((u) => u.held && collector.accepted.has(u.siteId)).sort(bySiteId);
      for (const u of held) {
        collector.aggregator.add({ siteId: u.siteId, weights: u.weights, numExamples: u.effectiveExamples });
        collector.accepted.set(u.siteId, { ...u, weights: [], held: false });
      }
    }
    return decision;
  }
}
