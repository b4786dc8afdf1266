import { dequantize, FedtuneError, type Strategy } from '@fedtune/shared';
import { MapKeyView } from './map-key-view.ts';
import { aggregateDistributedDpSecureSum } from '../distributed-dp-aggregation.ts';
import { aggregateDpSecureSum, dpNoiseRandom, type DpConfig } from '../dp-aggregation.ts';
import { checkPartialEnvelope, decodeBase64, encodeBase64, partialOf, sitesInOrder, type AggregatorPartial } from './aggregator-partial.ts';
import type { AggregationOutcome, AggregationPlan, AggregatorUpdate, RoundAggregator } from './round-aggregator.ts';

/** What the aggregate of a secure sum is: the strategy on the mean, or DP-FedAvg with the noise added here ('central') or by the sites ('distributed'). */
export type SecureSumFinish = { mode: 'strategy'; strategy: Strategy; strategyOptions: unknown } | { mode: 'dp'; dp: DpConfig; noise: 'central' | 'distributed' };

/** One run of the secure-aggregation protocol, unmasked: the fixed-point ring sum of its survivors (secagg-server.ts). */
export interface UnmaskedSum {
  /** Σ quantized inputs mod 2^32 (Σ lengths + 1 words, the last one the total weight). */
  sum: Uint32Array;
  /** The survivors whose inputs are in the sum, with the examples each reported. */
  survivors: ReadonlyArray<{ siteId: string; numExamples: number }>;
}

/**
 * Secure aggregation's sum. The coordinator never sees an update: it adds the unmasked fixed-point ring
 * sum of a protocol run (`addSum`), and `add` of a single update is refused. Ring sums are exact integers
 * mod 2^32, so a partial (the ring sum and its survivors) merges by exact addition: a cluster node can run
 * the protocol among its own sites and forward its unmasked sum, and the leader's result is bit-identical
 * to one run over all of them. The masks themselves cancel only within one protocol run, so each run's
 * key exchange and unmasking stay on the node that ran it (docs/operations.md#round-aggregators).
 * `finish` dequantizes the total with the attempt's fixed-point encoding (the plan's `fixedPoint`).
 */
export class SecureSumAggregator implements RoundAggregator {
  readonly kind = 'secure-sum' as const;
  private plan?: AggregationPlan;
  private ring: Uint32Array;
  private readonly survivors = new Map<string, number>();
  /** A live view of the sites in the aggregate (no copy per read). */
  private readonly siteIdView: ReadonlySet<string> = new MapKeyView(this.survivors);
  private readonly words: number;

  constructor(
    private readonly lengths: readonly number[],
    private readonly finishWith: SecureSumFinish,
  ) {
    this.words = lengths.reduce((a, b) => a + b, 0) + 1;
    this.ring = new Uint32Array(this.words);
  }

  get siteIds(): ReadonlySet<string> {
    return this.siteIdView;
  }

  begin(plan: AggregationPlan): void {
    this.plan = plan;
    this.ring = new Uint32Array(this.words);
    this.survivors.clear();
  }

  add(update: AggregatorUpdate): void {
    this.started();
    throw new FedtuneError('malformed_payload', `secure aggregation takes only unmasked sums, not site ${update.siteId}'s update`);
  }

  /** Adds one protocol run's unmasked ring sum. A survivor already in the aggregate: 'duplicate_result'. */
  addSum(unmasked: UnmaskedSum): void {
    this.started();
    if (unmasked.sum.length !== this.words) throw new FedtuneError('shape_mismatch', `the secure sum has ${unmasked.sum.length} words, expected ${this.words}`);
    const ids = new Set<string>();
    for (const s of unmasked.survivors) {
      if (this.survivors.has(s.siteId) || ids.has(s.siteId)) throw new FedtuneError('duplicate_result', `site ${s.siteId} is already in the aggregate`);
      ids.add(s.siteId);
    }
    this.addRing(unmasked.sum);
    for (const s of unmasked.survivors) this.survivors.set(s.siteId, s.numExamples);
  }

  partial(): AggregatorPartial {
    return partialOf(this.kind, this.started(), this.entries(), { sum: encodeBase64(new Uint8Array(this.ring.buffer.slice(0))) });
  }

  merge(raw: unknown): void {
    const p = checkPartialEnvelope(raw, this.kind, this.plan, this.survivors);
    const sum = new Uint32Array(decodeBase64(p.state.sum, 4 * this.words, "the partial's state.sum").buffer);
    this.addRing(sum);
    for (const s of p.sites) this.survivors.set(s.siteId, s.numExamples);
  }

  finish(): AggregationOutcome {
    const plan = this.started();
    const entries = this.entries();
    if (entries.length === 0) throw new FedtuneError('no_updates', 'cannot aggregate a secure sum of no sites');
    if (!plan.fixedPoint) throw new FedtuneError('config', 'a secure sum needs the attempt’s fixed-point encoding (plan.fixedPoint)');
    const total = entries.reduce((n, s) => n + s.numExamples, 0);
    const counts = { siteIds: entries.map((s) => s.siteId), count: entries.length, totalExamples: total };
    const { weightedSum, mean } = dequantize(this.ring, this.lengths, plan.fixedPoint);
    const f = this.finishWith;
    if (f.mode === 'strategy') {
      // The coordinator learns only the survivors' weighted mean delta: one aggregate "update".
      const weights = plan.global.map((g, i) => {
        const out = new Float32Array(g.length);
        const d = mean[i];
        for (let j = 0; j < out.length; j++) out[j] = g[j] + d[j];
        return out;
      });
      const result = f.strategy.aggregate(plan.global, [{ siteId: 'secure-aggregate', weights, numExamples: Math.max(1, total) }], plan.strategyState, f.strategyOptions);
      return { weights: result.weights, strategyState: result.state, ...counts };
    }
    const clip = plan.dpClip!;
    const r = f.noise === 'distributed' ? aggregateDistributedDpSecureSum(plan.global, weightedSum, clip) : aggregateDpSecureSum(plan.global, weightedSum, plan.selected, clip, f.dp, dpNoiseRandom(f.dp, plan.round));
    return { weights: r.weights, strategyState: plan.strategyState, dp: { clip: r.clip, nextClip: r.nextClip, clippedShare: r.clippedShare }, ...counts };
  }

  private addRing(sum: Uint32Array): void {
    for (let i = 0; i < this.words; i++) this.ring[i] = (this.ring[i] + sum[i]) >>> 0;
  }

  private entries(): Array<{ siteId: string; numExamples: number }> {
    return sitesInOrder([...this.survivors].map(([siteId, numExamples]) => ({ siteId, numExamples })));
  }

  private started(): AggregationPlan {
    if (!this.plan) throw new FedtuneError('stale_round', 'the aggregator has no round in progress (begin was not called)');
    return this.plan;
  }
}
