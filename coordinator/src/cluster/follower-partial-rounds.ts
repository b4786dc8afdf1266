import { clipText, FedtuneError, type ClientToServer, type SiteLink, type Weights } from '@fedtune/shared';
import { CLUSTER_EVENTS } from './cluster-messages.ts';
import { FollowerRoundPartial } from './follower-round-partial.ts';
import type { FencingTokens } from './fencing-check.ts';
import type { SiteAcceptanceMessage } from './partial-round-messages.ts';
import { RecordBatcher } from './record-batcher.ts';
import { firstIssue } from './schema-issue.ts';
import { RoundCloseMessage, RoundPlanMessage } from './round-plan-messages.ts';

export interface FollowerPartialRoundsOptions {
  nodeId: string;
  /** The round's global weights by the sha256 of their encoded bytes (load-global-weights-for-round.ts): plans with weightsFrom 'sha256'. */
  loadWeights(sha256: string, maxBytes: number): Promise<Weights>;
  /** The round's global weights as the published model version with that sha256 (global-weights-by-version.ts): plans with weightsFrom 'version'. */
  loadVersionWeights(version: number, sha256: string, maxBytes: number): Promise<Weights>;
  /** The highest leader fencing token seen (shared with the node's leader announcements): plans and closes of a lower one are ignored. */
  fence: FencingTokens;
  emitToNodes(event: string, payload: unknown): void;
  onWarning?: (message: string) => void;
  /** Longest an acceptance record waits for others before its batch goes to the leader (record-batcher.ts). Default 5 ms. */
  recordBatchDelayMs?: number;
  /**
   * Relays a site's message to the leader as the transport would have (ClusterTransport.relaySiteMessage).
   * With it, fit results that arrive while the plan's weights are still loading are held and folded once
   * they are loaded (relayed if the load fails or the attempt moves on) instead of each crossing Redis whole.
   */
  relay?: (link: SiteLink, message: { event: string; payload: unknown }) => void;
}

/** A plan whose global weights are loading, and the fit results of its sites that came meanwhile. */
interface LoadingAttempt {
  key: string;
  sockets: ReadonlySet<string>;
  held: Array<{ link: SiteLink; message: { event: string; payload: unknown } }>;
}

interface FollowerAttempt {
  key: string;
  plan: RoundPlanMessage;
  partial: FollowerRoundPartial;
  /** The socket each of this node's selected sites is known by on the leader, and what it announced. */
  sockets: Map<string, { siteId: string; announced?: number }>;
  /** Sites whose update this node relayed in this attempt: never folded afterwards (one update per site, one place). */
  relayed: Set<string>;
}

const keyOf = (m: { runId: string; round: number; attempt: number; token: number }) => `${m.runId}\u0000${m.round}\u0000${m.attempt}\u0000${m.token}`;

/**
 * A follower's side of partial aggregates (docs/cluster.md, "Aggregation and privacy"): on the leader's plan
 * for an attempt it loads the round's global weights, then folds the fit results of its own selected sites
 * (each on the socket the leader knows it by) into a FollowerRoundPartial, sending the leader one acceptance
 * record per site instead of the update; at the leader's close it sends its partial. Anything it cannot
 * decide — no plan yet, another socket, a refused or not-certain update — is relayed to the leader as before.
 */
export class FollowerPartialRounds {
  private current?: FollowerAttempt;
  /** The attempt whose plan is being loaded, and the last attempt closed (a close may overtake a slow load). */
  private loading?: string;
  private lastClosed?: string;
  /** The plan being loaded, with the fit results held until it is (options.relay). */
  private held?: LoadingAttempt;
  /** Updates folded here and partials sent, since this node started. */
  folded = 0;
  partialsSent = 0;
  /** Fit results held while their plan's weights loaded, and how many of those were relayed in the end. */
  heldWhileLoading = 0;
  heldThenRelayed = 0;

  /** Acceptance records go to the leader in batches (one message per flush, not one per site). */
  readonly records: RecordBatcher<SiteAcceptanceMessage>;

  constructor(private readonly options: FollowerPartialRoundsOptions) {
    this.records = new RecordBatcher({ send: (records) => options.emitToNodes(CLUSTER_EVENTS.siteAcceptedBatch, { node: options.nodeId, records }), delayMs: options.recordBatchDelayMs });
  }

  /** The leader's plan (raw from Redis): parsed strictly; throws FedtuneError('malformed_payload') when malformed. */
  async onPlan(raw: unknown): Promise<void> {
    const parsed = RoundPlanMessage.safeParse(raw);
    if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`not a round plan: ${firstIssue(parsed.error)}`));
    const plan = parsed.data;
    if (plan.node === this.options.nodeId) return;
    // A plan of a replaced leader (a lower fencing token than one seen) is ignored, counted by the fence.
    if (!this.options.fence.admit(plan.token)) return;
    // A new attempt supersedes whatever was in progress here (its close never came: the leader moved on),
    // a plan still loading too: one naming none of this node's sites must not let it start when its load ends.
    this.current = undefined;
    this.loading = undefined;
    this.releaseHeld();
    this.records.flush();
    const mine = plan.sites.filter((s) => s.node === this.options.nodeId);
    if (mine.length === 0) return;
    const key = keyOf(plan);
    this.loading = key;
    if (this.options.relay) this.held = { key, sockets: new Set(mine.map((s) => s.socket)), held: [] };
    // A leader that took over resumes at the same round and attempt: only a close after this plan counts.
    this.lastClosed = undefined;
    let weights: Weights;
    try {
      const maxBytes = 2 * plan.maxUpdateBytes + 1024 * 1024;
      weights = plan.weightsFrom === 'version' ? await this.options.loadVersionWeights(plan.modelVersion, plan.weightsSha256, maxBytes) : await this.options.loadWeights(plan.weightsSha256, maxBytes);
    } catch (err) {
      if (this.held?.key === key) this.releaseHeld();
      this.options.onWarning?.(`round ${plan.round}: could not load the global weights for partial aggregation (${clipText((err as Error)?.message ?? err, 300)}); this node relays its sites' updates`);
      return;
    }
    if (this.loading !== key || this.lastClosed === key || plan.token < this.options.fence.highest) {
      if (this.held?.key === key) this.releaseHeld();
      return;
    }
    this.loading = undefined;
    const partial = new FollowerRoundPartial({
      node: this.options.nodeId,
      runId: plan.runId,
      round: plan.round,
      attempt: plan.attempt,
      token: plan.token,
      manifest: weights.manifest,
      global: weights.arrays,
      selected: new Set(mine.map((s) => s.siteId)),
      maxExamples: plan.maxExamples,
      maxUpdateBytes: plan.maxUpdateBytes,
      maxUpdateNorm: plan.maxUpdateNorm,
      updateEncoding: plan.updateEncoding,
      exampleCap: plan.exampleCap ?? Infinity,
      ...(plan.streamBound !== null ? { streamBound: plan.streamBound } : {}),
    });
    const sockets = new Map(mine.map((s) => [s.socket, { siteId: s.siteId, announced: s.announced }]));
    this.current = { key, plan, partial, sockets, relayed: new Set() };
    // What came while the weights loaded is folded now (or relayed, as it would have been).
    if (this.held?.key === key) {
      const { held } = this.held;
      this.held = undefined;
      for (const h of held) if (!this.intercept(h.link, h.message)) this.relayHeld(h);
    }
  }

  /** Relays every held fit result (its plan will not be folded here) and stops holding. */
  private releaseHeld(): void {
    const held = this.held?.held ?? [];
    this.held = undefined;
    for (const h of held) this.relayHeld(h);
  }

  private relayHeld(h: { link: SiteLink; message: { event: string; payload: unknown } }): void {
    this.heldThenRelayed++;
    // Results are held only with a relay (onPlan).
    this.options.relay!(h.link, h.message);
  }

  /**
   * A site's message on this node (already schema-checked by its link): true when it was folded into the
   * partial here (the leader gets the acceptance record), false when it must be relayed as before.
   */
  intercept(link: SiteLink, message: { event: string; payload: unknown }): boolean {
    const a = this.current;
    const loading = this.held;
    // While the plan's weights load, its sites' fit results wait (one per selected socket; a second is relayed).
    if (!a && loading && message.event === 'fitResult' && loading.sockets.has(link.id) && !loading.held.some((h) => h.link.id === link.id)) {
      loading.held.push({ link, message });
      this.heldWhileLoading++;
      return true;
    }
    if (!a || message.event !== 'fitResult') return false;
    const result = message.payload as ClientToServer['fitResult'];
    const site = a.sockets.get(link.id);
    if (!site || result.siteId !== site.siteId || result.runId !== a.plan.runId || result.round !== a.plan.round || a.relayed.has(site.siteId)) return false;
    const verdict = a.partial.add(site.siteId, result, site.announced);
    if (!verdict.ok) {
      // The leader decides (and answers the site): it runs the same checks, or holds the update for the norm bound.
      a.relayed.add(site.siteId);
      return false;
    }
    this.folded++;
    this.records.add(verdict.acceptance);
    return true;
  }

  /** The leader closed an attempt (raw from Redis): this node's partial goes to it when it folded any site. */
  onClose(raw: unknown): void {
    const parsed = RoundCloseMessage.safeParse(raw);
    if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`not a round close: ${firstIssue(parsed.error)}`));
    const m = parsed.data;
    if (m.node === this.options.nodeId || !this.options.fence.admit(m.token)) return;
    const key = keyOf(m);
    this.lastClosed = key;
    if (this.held?.key === key) this.releaseHeld();
    const a = this.current;
    if (!a || a.key !== key) return;
    this.current = undefined;
    // The records before the partial: the leader must know every site the partial holds (Redis keeps one node's messages in order).
    this.records.flush();
    if (a.partial.siteIds.size === 0) return;
    const partial = a.partial.close();
    this.partialsSent++;
    this.options.emitToNodes(CLUSTER_EVENTS.partial, { node: this.options.nodeId, runId: m.runId, round: m.round, attempt: m.attempt, token: m.token, partial });
  }
}
