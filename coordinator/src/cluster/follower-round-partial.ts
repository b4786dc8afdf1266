import { FedtuneError, type FitResult, type UpdateEncoding, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import type { AggregatorPartial } from '../engine/aggregation/aggregator-partial.ts';
import { StreamingFedAvgAggregator } from '../engine/aggregation/streaming-fedavg-aggregator.ts';
import { sha256OfBytes } from '../audit/audit-recorder.ts';
import { validateFitResult } from '../engine/validate-fit-result.ts';
import type { SiteAcceptanceMessage } from './partial-round-messages.ts';

/** What the leader tells a follower about one attempt of a plain-FedAvg round (the checks it must run). */
export interface FollowerRoundPlan {
  node: string;
  runId: string;
  round: number;
  attempt: number;
  /** The fencing token of the leader's plan: every record carries it (fencing-check.ts). */
  token: number;
  manifest: WeightsManifest;
  /** The global weights the sites train from (the fit instruction's). */
  global: WeightArrays;
  /** The sites selected in this attempt. */
  selected: ReadonlySet<string>;
  maxExamples: number;
  maxUpdateBytes: number;
  maxUpdateNorm?: number;
  updateEncoding?: UpdateEncoding;
  /** The most examples one update weighs for (the update guard's cap; Infinity when off). */
  exampleCap: number;
  /**
   * Updates with a norm above this are not certain to be kept (the adaptive norm bound is decided on the
   * round's full set of norms, update-guard.ts): they are not folded here but go to the leader (absent: no bound).
   */
  streamBound?: number;
}

export type FollowerVerdict = { ok: true; acceptance: SiteAcceptanceMessage } | { ok: false; code: FedtuneError['code']; reason: string };

/**
 * A follower's side of one plain-FedAvg round: it runs the leader's checks (validateFitResult against the
 * same global weights) on its own sites' updates and folds them into a streaming FedAvg partial; the leader
 * gets one small acceptance record per site and, at the close, the partial — never the updates.
 */
export class FollowerRoundPartial {
  private readonly aggregator: StreamingFedAvgAggregator;
  private closed = false;

  constructor(private readonly plan: FollowerRoundPlan) {
    this.aggregator = new StreamingFedAvgAggregator(plan.manifest.map((t) => t.shape.reduce((a, b) => a * b, 1)));
    this.aggregator.begin({ runId: plan.runId, round: plan.round, attempt: plan.attempt, global: plan.global, strategyState: undefined, selected: plan.selected.size });
  }

  /** The sites folded in so far (a live view: read per update). */
  get siteIds(): ReadonlySet<string> {
    return this.aggregator.siteIds;
  }

  /** One site's fit result (its message already schema-checked), with what the site announced at hello. */
  add(siteId: string, result: FitResult, announced: number | undefined): FollowerVerdict {
    if (this.closed) return { ok: false, code: 'stale_round', reason: `round ${this.plan.round} closed before this result arrived` };
    const verdict = validateFitResult(siteId, result, {
      runId: this.plan.runId,
      round: this.plan.round,
      selected: this.plan.selected,
      alreadyReceived: this.aggregator.siteIds,
      manifest: this.plan.manifest,
      maxExamples: this.plan.maxExamples,
      announced,
      maxUpdateBytes: this.plan.maxUpdateBytes,
      global: this.plan.global,
      maxUpdateNorm: this.plan.maxUpdateNorm,
      maxAbs: this.aggregator.maxAbs,
      updateEncoding: this.plan.updateEncoding,
    });
    if (!verdict.ok) return verdict;
    const norm = verdict.norm ?? 0;
    if (this.plan.streamBound !== undefined && !(norm <= this.plan.streamBound)) {
      return { ok: false, code: 'update_norm', reason: `norm ${norm.toPrecision(4)} is above ${this.plan.streamBound.toPrecision(4)}: the round's adaptive bound decides it on the leader` };
    }
    const effectiveExamples = Math.min(verdict.numExamples, this.plan.exampleCap);
    this.aggregator.add({ siteId, weights: verdict.weights, numExamples: effectiveExamples });
    return {
      ok: true,
      acceptance: {
        node: this.plan.node,
        runId: this.plan.runId,
        round: this.plan.round,
        attempt: this.plan.attempt,
        token: this.plan.token,
        siteId,
        numExamples: verdict.numExamples,
        effectiveExamples,
        norm,
        metrics: result.metrics,
        durationMs: result.durationMs,
        bytes: result.weights.byteLength,
        sha256: sha256OfBytes(result.weights),
      },
    };
  }

  /** Closes the round here (later results are stale) and returns the partial for the leader. */
  close(): AggregatorPartial {
    if (this.closed) throw new FedtuneError('stale_round', `round ${this.plan.round} attempt ${this.plan.attempt} is already closed on this node`);
    this.closed = true;
    // The sums as bytes: a partial crosses Redis in msgpack, which carries binary (base64 text cost the leader a scan and a decode of 2 MB per partial at 100k parameters).
    return this.aggregator.partial({ binary: true });
  }
}
