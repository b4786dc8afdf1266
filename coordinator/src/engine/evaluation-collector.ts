import type { EvaluateResult, SiteEvaluation } from '@fedtune/shared';
import { lowerMedian } from './update-guard.ts';

/**
 * The weight each site's evaluation carries in the federated accuracy: its reported test-split count (the router
 * holds it to the training examples the site announced at hello), capped at `cap` × the lower median of the
 * positive counts (0 = no cap), so one site claiming a huge test split cannot decide the federated accuracy.
 * `reference` (the coordinator's holdout size) is one more member of that median, not a weight: one site of two
 * claiming a tiny split cannot set the median and so shrink the other's weight to `cap` × its own. Decided on the
 * full set of answers: independent of arrival order.
 */
export function evaluationWeights(sites: readonly SiteEvaluation[], cap: number, reference?: number): Map<string, number> {
  // Stryker disable next-line ConditionalExpression,ArrayDeclaration: equivalent: an undefined or made-up member is not > 0, and the filter below drops it.
  const members = [...sites.map((s) => s.numExamples), ...(reference !== undefined ? [reference] : [])];
  const median = lowerMedian(members.filter((n) => n > 0));
  const limit = cap === 0 || median === undefined ? Infinity : cap * median;
  return new Map(sites.map((s) => [s.siteId, Math.min(s.numExamples, limit)]));
}

/** Collects federated-evaluation answers (the global model on each site's test split) until all answer or time runs out. */
export class EvaluationCollector<T extends { siteId: string } = SiteEvaluation> {
  readonly results = new Map<string, T>();
  /** The calibration sums of the sites that sent them (federated temperature scaling). */
  readonly calibration = new Map<string, NonNullable<EvaluateResult['calibration']>>();
  /** The global model version the sites were asked to evaluate (a site's heldModelVersion is believed only for it). */
  modelVersion?: number;
  private readonly pending: Set<string>;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    readonly round: number,
    sites: Iterable<string>,
    timeoutMs: number,
  ) {
    this.pending = new Set(sites);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.timer = setTimeout(() => this.finish(), timeoutMs);
    // No site asked: done at once, and no timer left to hold the process for the round timeout.
    if (this.pending.size === 0) this.finish();
  }

  expects(siteId: string): boolean {
    return this.pending.has(siteId);
  }

  add(result: T, calibration?: EvaluateResult['calibration']): void {
    if (!this.pending.delete(result.siteId)) return;
    if (calibration) this.calibration.set(result.siteId, calibration);
    this.results.set(result.siteId, result);
    if (this.pending.size === 0) this.finish();
  }

  /** The asked sites that have neither answered nor been dropped (after `done`: those that gave no answer in time). */
  get silent(): string[] {
    return [...this.pending];
  }

  drop(siteId: string): void {
    if (this.pending.delete(siteId) && this.pending.size === 0) this.finish();
  }

  private finish(): void {
    clearTimeout(this.timer);
    this.resolveDone();
  }
}
