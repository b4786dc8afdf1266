import { FedtuneError, type WeightArrays } from '@fedtune/shared';
import { MapKeyView } from './map-key-view.ts';
import { aggregateClippedDp, clipDelta, dpNoiseRandom, type DpConfig } from '../dp-aggregation.ts';
import { bySiteId, checkPartialEnvelope, decodeTensors, encodeTensors, partialOf, stateArray, type AggregatorPartial } from './aggregator-partial.ts';
import type { AggregationOutcome, AggregationPlan, AggregatorUpdate, RoundAggregator } from './round-aggregator.ts';

/** A clipped delta in a partial may exceed the clip by this relative slack (float32 rounding of the scaled values). */
export const CLIP_SLACK = 1e-5;

interface ClippedDelta {
  siteId: string;
  numExamples: number;
  update: WeightArrays;
  withinClip: boolean;
}

/**
 * Central DP-FedAvg (dp-aggregation.ts): each update's delta is clipped to C when it is added — on the node
 * that validated it — and kept; `finish` sums the clipped deltas in canonical site-id order, adds the
 * Gaussian noise once and divides by the m selected sites. The sum is float32, whose rounding depends on
 * the order, so the partial forwards the clipped deltas (with each one's within-clip bit for adaptive
 * clipping) rather than a sum: merging concatenates them and the result is bit-identical for any split.
 * A merged delta whose norm exceeds C (beyond float rounding) is refused: a node cannot smuggle an unclipped one.
 */
export class CentralDpAggregator implements RoundAggregator {
  readonly kind = 'central-dp' as const;
  private plan?: AggregationPlan;
  private readonly deltas = new Map<string, ClippedDelta>();
  /** A live view of the sites in the aggregate (no copy per read). */
  private readonly siteIdView: ReadonlySet<string> = new MapKeyView(this.deltas);

  constructor(
    private readonly dp: DpConfig,
    private readonly lengths: readonly number[],
  ) {}

  get siteIds(): ReadonlySet<string> {
    return this.siteIdView;
  }

  begin(plan: AggregationPlan): void {
    if (!(typeof plan.dpClip === 'number' && Number.isFinite(plan.dpClip) && plan.dpClip > 0)) throw new FedtuneError('config', `central DP needs the round's clip (a finite number > 0), got ${plan.dpClip}`);
    this.plan = plan;
    this.deltas.clear();
  }

  add(update: AggregatorUpdate): void {
    const plan = this.started();
    if (this.deltas.has(update.siteId)) throw new FedtuneError('duplicate_result', `site ${update.siteId} is already in the aggregate`);
    const clipped = clipDelta(plan.global, update.weights, plan.dpClip!);
    this.deltas.set(update.siteId, { siteId: update.siteId, numExamples: update.numExamples, ...clipped });
  }

  partial(): AggregatorPartial {
    const ordered = this.ordered();
    return partialOf(this.kind, this.started(), ordered, { deltas: ordered.map((d) => encodeTensors(d.update)), withinClip: ordered.map((d) => d.withinClip) });
  }

  merge(raw: unknown): void {
    const p = checkPartialEnvelope(raw, this.kind, this.plan, this.deltas);
    const clip = this.plan!.dpClip!;
    const deltas = stateArray(p.state, 'deltas', p.sites.length);
    const within = stateArray(p.state, 'withinClip', p.sites.length);
    const decoded = p.sites.map((s, i): ClippedDelta => {
      const flag = within[i];
      if (typeof flag !== 'boolean') throw new FedtuneError('malformed_payload', `the partial's withinClip of site ${s.siteId} must be true or false`);
      const update = decodeTensors(deltas[i], this.lengths, `the partial's delta of site ${s.siteId}`);
      const norm = Math.sqrt(update.reduce((n, t) => t.reduce((m, v) => m + v * v, n), 0));
      if (norm > clip * (1 + CLIP_SLACK)) throw new FedtuneError('update_norm', `the partial's delta of site ${s.siteId} has norm ${norm.toPrecision(6)}, above the round's clip ${clip}`);
      return { siteId: s.siteId, numExamples: s.numExamples, update, withinClip: flag };
    });
    for (const d of decoded) this.deltas.set(d.siteId, d);
  }

  finish(): AggregationOutcome {
    const plan = this.started();
    const ordered = this.ordered();
    const r = aggregateClippedDp(plan.global, ordered, plan.selected, plan.dpClip!, this.dp, dpNoiseRandom(this.dp, plan.round));
    return {
      weights: r.weights,
      strategyState: plan.strategyState,
      dp: { clip: r.clip, nextClip: r.nextClip, clippedShare: r.clippedShare },
      siteIds: ordered.map((d) => d.siteId),
      count: ordered.length,
      totalExamples: ordered.reduce((n, d) => n + d.numExamples, 0),
    };
  }

  private ordered(): ClippedDelta[] {
    return [...this.deltas.values()].sort((a, b) => bySiteId(a.siteId, b.siteId));
  }

  private started(): AggregationPlan {
    if (!this.plan) throw new FedtuneError('stale_round', 'the aggregator has no round in progress (begin was not called)');
    return this.plan;
  }
}
