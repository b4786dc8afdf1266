import { FedtuneError, type Strategy, type WeightArrays } from '@fedtune/shared';
import { MapKeyView } from './map-key-view.ts';
import { bySiteId, checkPartialEnvelope, decodeTensors, encodeTensors, partialOf, stateArray, type AggregatorPartial } from './aggregator-partial.ts';
import type { AggregationOutcome, AggregationPlan, AggregatorUpdate, RoundAggregator } from './round-aggregator.ts';

/**
 * A strategy that needs every update (robust aggregators, server optimizers): the updates are kept, and
 * the strategy runs once at `finish` over them in canonical site-id order. Its partial is the updates
 * themselves (float32, base64), forwarded; merging concatenates them, so the order of arrival and the split
 * never change the result.
 */
export class IndividualUpdatesAggregator implements RoundAggregator {
  readonly kind = 'individual-updates' as const;
  private plan?: AggregationPlan;
  private readonly updates = new Map<string, AggregatorUpdate>();
  /** A live view of the sites in the aggregate (no copy per read). */
  private readonly siteIdView: ReadonlySet<string> = new MapKeyView(this.updates);

  constructor(
    private readonly strategy: Strategy,
    private readonly strategyOptions: unknown,
    private readonly lengths: readonly number[],
  ) {}

  get siteIds(): ReadonlySet<string> {
    return this.siteIdView;
  }

  begin(plan: AggregationPlan): void {
    this.plan = plan;
    this.updates.clear();
  }

  add(update: AggregatorUpdate): void {
    this.started();
    if (this.updates.has(update.siteId)) throw new FedtuneError('duplicate_result', `site ${update.siteId} is already in the aggregate`);
    this.updates.set(update.siteId, { siteId: update.siteId, weights: update.weights, numExamples: update.numExamples });
  }

  partial(): AggregatorPartial {
    const ordered = this.ordered();
    return partialOf(this.kind, this.started(), ordered, { weights: ordered.map((u) => encodeTensors(u.weights)) });
  }

  merge(raw: unknown): void {
    const p = checkPartialEnvelope(raw, this.kind, this.plan, this.updates);
    if (p.sites.some((s) => s.numExamples < 1)) throw new FedtuneError('malformed_payload', 'an individual-updates partial lists a site with no examples');
    const weights = stateArray(p.state, 'weights', p.sites.length);
    // Decoded in full before any is kept: a bad entry leaves the aggregator unchanged.
    const decoded: WeightArrays[] = weights.map((w, i) => decodeTensors(w, this.lengths, `the partial's weights of site ${p.sites[i].siteId}`));
    p.sites.forEach((s, i) => this.updates.set(s.siteId, { siteId: s.siteId, weights: decoded[i], numExamples: s.numExamples }));
  }

  finish(): AggregationOutcome {
    const plan = this.started();
    const ordered = this.ordered();
    if (ordered.length === 0) throw new FedtuneError('no_updates', 'cannot aggregate zero updates');
    const result = this.strategy.aggregate(plan.global, ordered, plan.strategyState, this.strategyOptions);
    return { weights: result.weights, strategyState: result.state, siteIds: ordered.map((u) => u.siteId), count: ordered.length, totalExamples: ordered.reduce((n, u) => n + u.numExamples, 0) };
  }

  private ordered(): AggregatorUpdate[] {
    return [...this.updates.values()].sort((a, b) => bySiteId(a.siteId, b.siteId));
  }

  private started(): AggregationPlan {
    if (!this.plan) throw new FedtuneError('stale_round', 'the aggregator has no round in progress (begin was not called)');
    return this.plan;
  }
}
