import { clipText, type LocalMetrics, type WeightArrays } from '@fedtune/shared';
import type { RoundAggregator } from './aggregation/round-aggregator.ts';
import type { RejectionRecord } from '@fedtune/shared';

export interface AcceptedUpdate {
  siteId: string;
  weights: WeightArrays;
  /** The examples the site claimed. */
  numExamples: number;
  /** What the update weighs in an average: the claim, capped (update-guard.ts). */
  effectiveExamples: number;
  /** ‖weights − global‖ (L2), for the adaptive norm bound. */
  norm?: number;
  /** Set while the round keeps the update aside until the norm bound is known (not yet in the aggregator). */
  held?: boolean;
  metrics: LocalMetrics;
  durationMs: number;
  bytes: number;
}

/**
 * Most refusals one attempt of a round lists (at least one per selected site): peers that join under fresh names
 * can be refused without end, and each refusal used to land in report.json, report.html and the run database.
 * The rest are counted (`rejectedNotListed`).
 */
export const MAX_ROUND_REJECTIONS = 200;

/** Collects one round's answers from the selected sites until all have answered or the deadline passes. */
export class RoundCollector {
  readonly accepted = new Map<string, AcceptedUpdate>();
  readonly rejected: RejectionRecord[] = [];
  /** Refusals past the listed ones (MAX_ROUND_REJECTIONS, or one per selected site if more): counted only. */
  rejectedNotListed = 0;
  readonly failed: Array<{ siteId: string; reason: string }> = [];
  /** Selected sites that have answered (accepted, rejected or failed) or left. */
  readonly answered = new Set<string>();
  private resolveDone!: () => void;
  readonly done: Promise<void>;
  private timer?: ReturnType<typeof setTimeout>;
  timedOut = false;

  constructor(
    readonly round: number,
    readonly selected: ReadonlySet<string>,
    timeoutMs: number,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    if (selected.size === 0) this.resolveDone();
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.finish();
    }, timeoutMs);
  }

  /** Set once the round stops taking results; later valid results are rejected as stale. */
  closed = false;

  /**
   * Selected sites without an answer whose silence may not be theirs (a cluster node whose partial never came:
   * leader-round-partials.ts): they fail the round but do not count as missing it (unresponsive-sites.ts).
   */
  readonly excused = new Set<string>();

  excuse(siteId: string): void {
    if (this.selected.has(siteId) && !this.answered.has(siteId)) this.excused.add(siteId);
  }

  /** Set when the round was closed `waitAfterQuorumMs` after its quorum, with selected sites still to answer. */
  closedAfterQuorum = false;
  private quorum?: { needed: number; waitMs: number; kept?: () => number; timer?: ReturnType<typeof setTimeout> };

  /**
   * Once `needed` results are accepted, waits at most `waitMs` more for the rest, then closes the round
   * (stragglers.waitAfterQuorumMs). `kept`, if given, says how many of the accepted updates the round's close would
   * keep as things stand (the norm bound on the norms so far): only those count, since an update the close refuses
   * as an outlier cannot make its quorum (fast peers' huge updates closed rounds that their refusal then failed).
   * Call before results arrive.
   */
  closeAfterQuorum(needed: number, waitMs: number, kept?: () => number): void {
    this.quorum = { needed: Math.max(1, needed), waitMs, ...(kept ? { kept } : {}) };
    this.checkQuorum();
  }

  private checkQuorum(): void {
    const q = this.quorum;
    if (!q || q.timer || this.closed || this.accepted.size < q.needed) return;
    if (q.kept && q.kept() < q.needed) return;
    // finish() clears it: it only fires on a round still open.
    q.timer = setTimeout(() => {
      this.closedAfterQuorum = true;
      this.finish();
    }, q.waitMs);
  }

  /**
   * When set, accepted updates are folded into the round's aggregator on arrival (by their capped examples)
   * and their weights dropped here: with streaming FedAvg memory does not grow with the sites.
   */
  aggregator?: RoundAggregator;

  /** With an aggregator: updates whose norm is above this are held until the round closes (update-guard.ts). */
  streamBound = Infinity;

  accept(update: AcceptedUpdate): void {
    if (this.aggregator) {
      if ((update.norm ?? 0) <= this.streamBound) {
        this.aggregator.add({ siteId: update.siteId, weights: update.weights, numExamples: update.effectiveExamples });
        update = { ...update, weights: [] };
      } else {
        update = { ...update, held: true };
      }
    }
    this.accepted.set(update.siteId, update);
    this.markAnswered(update.siteId);
    this.checkQuorum();
  }

  /**
   * An update another process validated and folded into its partial aggregate (remote-partials.ts): counted
   * as accepted (its weights are in that partial, not here). False when the round no longer takes results.
   */
  acceptFolded(update: AcceptedUpdate): boolean {
    if (this.closed || this.accepted.has(update.siteId)) return false;
    this.accepted.set(update.siteId, { ...update, weights: [], held: false });
    this.markAnswered(update.siteId);
    this.checkQuorum();
    return true;
  }

  /**
   * An update folded elsewhere before the close whose record reaches the engine after it (in flight at a
   * round's timeout), while the attempt still waits for partials: counted as acceptFolded would, since its
   * weights are already in a partial that is still to be merged (leaving it out would drop that whole partial).
   */
  acceptFoldedAfterClose(update: AcceptedUpdate): boolean {
    if (!this.closed) return this.acceptFolded(update);
    if (!this.selected.has(update.siteId) || this.accepted.has(update.siteId)) return false;
    this.accepted.set(update.siteId, { ...update, weights: [], held: false });
    this.answered.add(update.siteId);
    return true;
  }

  /** An accepted update whose partial aggregate never came: out of the round, failed with `reason`. */
  leaveOut(siteId: string, reason: string): void {
    if (!this.accepted.delete(siteId)) return;
    this.failed.push({ siteId, reason: clipText(reason) });
  }

  /** Records a refusal in the round (its reason clipped: it may quote what a site sent). */
  reject(record: RejectionRecord): void {
    if (this.rejected.length < Math.max(MAX_ROUND_REJECTIONS, this.selected.size)) this.rejected.push({ siteId: clipText(record.siteId, 128), code: clipText(record.code, 64), reason: clipText(record.reason) });
    else this.rejectedNotListed++;
    if (this.selected.has(record.siteId) && !this.accepted.has(record.siteId)) this.markAnswered(record.siteId);
  }

  fail(siteId: string, reason: string): void {
    if (!this.selected.has(siteId) || this.answered.has(siteId)) return;
    this.failed.push({ siteId, reason: clipText(reason) });
    this.markAnswered(siteId);
  }

  private markAnswered(siteId: string): void {
    if (!this.selected.has(siteId)) return;
    this.answered.add(siteId);
    if (this.answered.size >= this.selected.size) this.finish();
  }

  finish(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.quorum?.timer) clearTimeout(this.quorum.timer);
    this.resolveDone();
  }
}
