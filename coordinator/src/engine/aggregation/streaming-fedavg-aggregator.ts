import { FedtuneError, StreamingFedAvg, type StreamingFedAvgOptions } from '@fedtune/shared';
import { MapKeyView } from './map-key-view.ts';
import { checkPartialEnvelope, decodeBinaryField, encodeBase64, partialOf, sitesInOrder, type AggregatorPartial } from './aggregator-partial.ts';
import type { AggregationOutcome, AggregationPlan, AggregatorUpdate, RoundAggregator } from './round-aggregator.ts';

/**
 * Plain FedAvg as an exact, order-independent running sum (StreamingFedAvg): each update is folded in on
 * arrival and dropped, so memory does not grow with the sites. Its partial is the sum's state (i64
 * accumulators, base64); merging adds the accumulators exactly, so any split gives the same bits.
 */
export class StreamingFedAvgAggregator implements RoundAggregator {
  readonly kind = 'streaming-fedavg' as const;
  private plan?: AggregationPlan;
  private sum: StreamingFedAvg;
  private readonly sites = new Map<string, number>();
  /** A live view of the sites in the aggregate (no copy per read). */
  private readonly siteIdView: ReadonlySet<string> = new MapKeyView(this.sites);

  constructor(
    private readonly lengths: readonly number[],
    private readonly options: StreamingFedAvgOptions = {},
  ) {
    this.sum = new StreamingFedAvg(lengths, options);
  }

  /** Values with |w| above this cannot be summed (validate-fit-result.ts refuses them first). */
  get maxAbs(): number {
    return this.sum.maxAbs;
  }

  get siteIds(): ReadonlySet<string> {
    return this.siteIdView;
  }

  begin(plan: AggregationPlan): void {
    this.plan = plan;
    // The same sum, emptied: its wasm memory (sums and staging slot) is kept from round to round.
    this.sum.reset();
    this.sites.clear();
  }

  add(update: AggregatorUpdate): void {
    this.started();
    if (this.sites.has(update.siteId)) throw new FedtuneError('duplicate_result', `site ${update.siteId} is already in the aggregate`);
    this.sum.add(update.weights, update.numExamples);
    this.sites.set(update.siteId, update.numExamples);
  }

  /** Arrays to decode the next update into so that `add` folds it without a copy (StreamingFedAvg.updateArrays). */
  updateArrays(): Float32Array[] {
    return this.sum.updateArrays();
  }

  /** The partial; `binary`: the sums as bytes (for a cluster message, whose encoding carries binary), else base64 (plain JSON). */
  partial(options: { binary?: boolean } = {}): AggregatorPartial {
    const state = this.sum.toState();
    return partialOf(this.kind, this.started(), this.entries(), { maxAbsExponent: state.maxAbsExponent, sums: options.binary ? state.sums : encodeBase64(state.sums) });
  }

  merge(raw: unknown): void {
    const p = checkPartialEnvelope(raw, this.kind, this.plan, this.sites);
    if (p.sites.some((s) => s.numExamples < 1)) throw new FedtuneError('malformed_payload', 'a streaming FedAvg partial lists a site with no examples');
    const maxAbsExponent = p.state.maxAbsExponent;
    if (maxAbsExponent !== this.sum.maxAbsExponent) throw new FedtuneError('malformed_payload', `the partial's grid (maxAbsExponent ${String(maxAbsExponent).slice(0, 32)}) is not this sum's (${this.sum.maxAbsExponent})`);
    const parameters = this.lengths.reduce((a, b) => a + b, 0);
    const sums = decodeBinaryField(p.state.sums, 16 * parameters, "the partial's state.sums");
    this.sum.mergeState({ lengths: [...this.lengths], maxAbsExponent, count: p.count, totalExamples: p.totalExamples, sums });
    for (const s of p.sites) this.sites.set(s.siteId, s.numExamples);
  }

  finish(): AggregationOutcome {
    const plan = this.started();
    const entries = this.entries();
    return { weights: this.sum.result(), strategyState: plan.strategyState, siteIds: entries.map((s) => s.siteId), count: this.sum.count, totalExamples: this.sum.totalExamples };
  }

  private entries(): Array<{ siteId: string; numExamples: number }> {
    return sitesInOrder([...this.sites].map(([siteId, numExamples]) => ({ siteId, numExamples })));
  }

  private started(): AggregationPlan {
    if (!this.plan) throw new FedtuneError('stale_round', 'the aggregator has no round in progress (begin was not called)');
    return this.plan;
  }
}
