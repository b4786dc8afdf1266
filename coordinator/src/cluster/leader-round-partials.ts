import { clipText, FedtuneError, toFedtuneError, type SiteLink } from '@fedtune/shared';
import type { RemotePartials, RemotePartialsAttempt, RemotePartialsAttemptStart } from '../engine/remote-partials.ts';
import { ClusterPartialLedger } from './cluster-partial-ledger.ts';
import { applyRecordBatch, type RecordBatchOutcome } from './leader-record-batch.ts';
import { CLUSTER_EVENTS } from './cluster-messages.ts';
import { PartialMessage, SiteAcceptanceMessage } from './partial-round-messages.ts';
import type { RoundPlanMessage } from './round-plan-messages.ts';
import { checkFencingToken } from './fencing-check.ts';
import { firstIssue } from './schema-issue.ts';
import { placeRoundWeights, type RoundWeightsPlacement, type RoundWeightsPlacementOptions } from './round-weights-placement.ts';

export interface LeaderRoundPartialsOptions extends RoundWeightsPlacementOptions {
  nodeId: string;
  /** This node's fencing token (the lease's): plans and closes carry it, records and partials must (fencing-check.ts). */
  leaderToken(): number;
  emitToNodes(event: string, payload: unknown): void;
  /** The node and socket id of a site's link held by another node; undefined for this node's own sites. */
  remoteOf(link: SiteLink): { node: string; socket: string } | undefined;
  /** Longest wait for the followers' partials after the close (capped by the round timeout). Default 10 s. */
  partialWaitMs?: number;
  log?: (line: string) => void;
}

/** A refused cluster message, for the node's counters and warnings. */
export interface PartialRefusal {
  event: string;
  code: FedtuneError['code'];
  reason: string;
}

/**
 * The leader's side of partial aggregates (docs/cluster.md, "Aggregation and privacy"): for each attempt of
 * a plain-FedAvg round with sites on followers it stores the global weights for them, tells them the plan,
 * counts their acceptance records in the round (ClusterPartialLedger, then the collector), and at the
 * close waits — bounded — for their partials and merges them. A node whose partial never comes or is
 * refused has its sites taken out of the round. Every message of another node is hostile: a refused one
 * throws a FedtuneError and changes nothing.
 */
export class LeaderRoundPartials implements RemotePartials {
  private current?: LeaderPartialAttempt;
  /** Partials merged, and the sites in them, since this node started leading. */
  partialsMerged = 0;
  sitesMerged = 0;
  /** Sites accepted by a follower whose partial never came or was refused. */
  sitesLeftOut = 0;
  /** Records and partials refused for carrying another fencing token than the plan's ('stale_leader'). */
  staleTokenRefused = 0;
  /** Acceptance records that reached the leader after the round's collection closed, counted because the attempt was still merging. */
  recordsAfterClose = 0;

  constructor(readonly options: LeaderRoundPartialsOptions) {}

  async beginAttempt(start: RemotePartialsAttemptStart): Promise<RemotePartialsAttempt | undefined> {
    this.current = undefined;
    const sites: RoundPlanMessage['sites'] = [];
    for (const siteId of start.selected) {
      const site = start.site(siteId);
      const remote = site && site.termsAccepted && !site.link.closed ? this.options.remoteOf(site.link) : undefined;
      if (remote) sites.push({ siteId, node: remote.node, socket: remote.socket, ...(site!.numExamples !== undefined ? { announced: site!.numExamples } : {}) });
    }
    const token = this.options.leaderToken();
    if (sites.length === 0 || !(token >= 1)) return undefined;
    const { config } = start;
    let placed: RoundWeightsPlacement;
    try {
      placed = await placeRoundWeights(this.options, start);
    } catch (err) {
      this.options.log?.(`round ${start.round}: the global weights could not be stored for the followers (${clipText((err as Error)?.message ?? err, 200)}); their sites' updates are relayed`);
      return undefined;
    }
    const plan: RoundPlanMessage = {
      node: this.options.nodeId,
      runId: config.runId,
      round: start.round,
      attempt: start.attempt,
      token,
      modelVersion: start.modelVersion,
      ...placed,
      sites,
      maxExamples: config.maxExamplesPerSite,
      maxUpdateBytes: config.maxUpdateBytes,
      ...(config.maxUpdateNorm !== undefined ? { maxUpdateNorm: config.maxUpdateNorm } : {}),
      ...(config.train.updateEncoding !== undefined ? { updateEncoding: config.train.updateEncoding } : {}),
      exampleCap: Number.isFinite(start.guard.exampleCap) ? start.guard.exampleCap : null,
      streamBound: Number.isFinite(start.guard.streamBound) ? start.guard.streamBound : null,
    };
    const attempt = new LeaderPartialAttempt(this, start, plan, () => {
      if (this.current === attempt) this.current = undefined;
    });
    this.current = attempt;
    this.options.emitToNodes(CLUSTER_EVENTS.roundPlan, plan);
    return attempt;
  }

  /** A follower's acceptance record (raw, from Redis). Throws FedtuneError when refused. */
  onRecord(raw: unknown): void {
    if (!this.current) throw new FedtuneError('stale_round', 'no attempt with partial aggregates is in progress');
    this.counted(() => this.current!.record(raw));
  }

  /** A follower's batch of acceptance records (raw, from Redis): throws when the batch is malformed; each refused record is in `refused`. */
  onRecordBatch(raw: unknown): RecordBatchOutcome {
    return applyRecordBatch(raw, (record) => this.onRecord(record));
  }

  /** A follower's partial (raw, from Redis). Throws FedtuneError when refused. */
  onPartial(raw: unknown): void {
    if (!this.current) throw new FedtuneError('stale_round', 'no attempt with partial aggregates is in progress');
    this.counted(() => this.current!.partial(raw));
  }

  private counted(handle: () => void): void {
    try {
      handle();
    } catch (err) {
      // Stryker disable next-line OptionalChaining: equivalent: record and partial throw only FedtuneErrors (their checks, toFedtuneError), never null.
      if ((err as FedtuneError)?.code === 'stale_leader') this.staleTokenRefused++;
      throw err;
    }
  }
}

class LeaderPartialAttempt implements RemotePartialsAttempt {
  private readonly ledger: ClusterPartialLedger;
  private readonly nodeOf = new Map<string, string>();
  /** Nodes whose partial was refused, with why. */
  private readonly refused = new Map<string, string>();
  private settle?: () => void;
  private closed = false;

  constructor(
    private readonly owner: LeaderRoundPartials,
    private readonly start: RemotePartialsAttemptStart,
    private readonly plan: RoundPlanMessage,
    private readonly done: () => void,
  ) {
    for (const s of plan.sites) this.nodeOf.set(s.siteId, s.node);
    this.ledger = new ClusterPartialLedger({ runId: plan.runId, round: plan.round, attempt: plan.attempt, selected: new Set(this.nodeOf.keys()) }, start.aggregator);
  }

  record(raw: unknown): void {
    const parsed = SiteAcceptanceMessage.safeParse(raw);
    if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`not a site acceptance record: ${firstIssue(parsed.error)}`));
    const r = parsed.data;
    checkFencingToken('the acceptance record', r.node, r.token, this.plan.token);
    const { collector, guard, config } = this.start;
    const holder = this.nodeOf.get(r.siteId);
    if (holder !== undefined && holder !== r.node) throw new FedtuneError('not_selected', `site ${r.siteId} is on node ${holder}, not ${r.node}`);
    if (collector.accepted.has(r.siteId)) throw new FedtuneError('duplicate_result', `site ${r.siteId} is already accepted in round ${this.plan.round}`);
    if (r.numExamples > config.maxExamplesPerSite) throw new FedtuneError('invalid_count', `site ${r.siteId} claims ${r.numExamples} examples, above the run's ${config.maxExamplesPerSite}`);
    if (r.effectiveExamples !== guard.effectiveExamples(r.numExamples)) throw new FedtuneError('invalid_count', `site ${r.siteId} weighs ${r.effectiveExamples} examples, not the round's capped ${guard.effectiveExamples(r.numExamples)}`);
    if (!guard.certain(r.norm)) throw new FedtuneError('update_norm', `site ${r.siteId}'s norm ${r.norm.toPrecision(4)} is not certain to be kept: it must come to the leader individually`);
    if (!(r.bytes <= config.maxUpdateBytes)) throw new FedtuneError('payload_too_large', `site ${r.siteId}'s update of ${r.bytes} bytes is above ${config.maxUpdateBytes}`);
    this.ledger.recordParsed(r);
    // A record in flight at the close (a round's timeout) still counts: its update is in a partial not merged yet (docs/cluster.md, "Records in flight at the close").
    if (this.closed || collector.closed) this.owner.recordsAfterClose++;
    // Stryker disable next-line ArrayDeclaration: equivalent: the collector keeps a folded update with weights [] whatever it is given.
    collector.acceptFoldedAfterClose({ siteId: r.siteId, weights: [], numExamples: r.numExamples, effectiveExamples: r.effectiveExamples, norm: r.norm, metrics: r.metrics, durationMs: r.durationMs, bytes: r.bytes });
    if (r.sha256) this.start.emit({ type: 'update-received', round: r.round, siteId: r.siteId, message: 'fitResult', sha256: r.sha256, bytes: r.bytes, numExamples: r.numExamples });
    this.start.emit({ type: 'result', round: r.round, siteId: r.siteId, accepted: true });
  }

  partial(raw: unknown): void {
    const node = PartialMessage.safeParse(raw);
    const awaited = node.success && this.ledger.awaited.includes(node.data.node) && !this.refused.has(node.data.node) ? node.data.node : undefined;
    try {
      if (node.success) checkFencingToken('the partial aggregate', node.data.node, node.data.token, this.plan.token);
      this.ledger.merge(raw);
    } catch (err) {
      const e = toFedtuneError(err);
      // Stryker disable next-line ConditionalExpression: equivalent: awaited is undefined exactly when this is false, and no node is named undefined.
      if (awaited) this.refused.set(awaited, `${e.code}: ${clipText(e.message, 300)}`);
      this.check();
      throw e;
    }
    this.check();
  }

  async close(): Promise<void> {
    this.closed = true;
    const { collector, config } = this.start;
    this.owner.options.emitToNodes(CLUSTER_EVENTS.roundClose, { node: this.owner.options.nodeId, runId: this.plan.runId, round: this.plan.round, attempt: this.plan.attempt, token: this.plan.token });
    const waitMs = Math.min(config.roundTimeoutMs, this.owner.options.partialWaitMs ?? 10_000);
    if (this.pending().length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.settle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.settle = undefined;
    const mergedNodes = new Set(this.ledger.accepted().map((r) => r.node));
    const merged = this.ledger.accepted().length;
    const left = this.ledger.unmerged();
    for (const { siteId, node } of left) {
      const why = this.refused.get(node) ?? `no partial aggregate within ${waitMs} ms`;
      const reason = `node ${node} accepted the update but its partial aggregate was left out (${why})`;
      collector.leaveOut(siteId, reason);
      this.start.emit({ type: 'result', round: this.plan.round, siteId, accepted: false, code: 'transport', reason: clipText(reason) });
    }
    // Which silent sites may not be silent (unresponsive-sites.ts): those of a node whose partial was due (it
    // recorded sites) but never merged, and of a node the leader heard nothing from this attempt (no record, no
    // partial, no relayed answer of any of its sites: a Redis outage looks like that). Their answers may have
    // been lost on the way, so they do not count as missing the round.
    const due = new Set(this.ledger.awaited);
    const heard = new Set<string>();
    for (const [siteId, node] of this.nodeOf) if (collector.answered.has(siteId)) heard.add(node);
    for (const [siteId, node] of this.nodeOf) if (!this.ledger.mergedFrom(node) && (due.has(node) || !heard.has(node))) collector.excuse(siteId);
    this.owner.partialsMerged += mergedNodes.size;
    this.owner.sitesMerged += merged;
    this.owner.sitesLeftOut += left.length;
    const leftNodes = [...new Set(left.map((l) => l.node))];
    if (mergedNodes.size > 0 || left.length > 0) {
      this.owner.options.log?.(
        `round ${this.plan.round} attempt ${this.plan.attempt}: merged ${mergedNodes.size} partial aggregate(s) (${merged} site(s)) from ${[...mergedNodes].sort().join(', ') || 'no node'}` +
          (left.length > 0 ? `; left out ${left.length} site(s) of ${leftNodes.join(', ')} (no partial)` : ''),
      );
    }
    this.done();
  }

  /** Nodes whose partial is still awaited (neither merged nor refused). */
  private pending(): string[] {
    return this.ledger.awaited.filter((n) => !this.refused.has(n));
  }

  private check(): void {
    if (this.pending().length === 0) this.settle?.();
  }
}
