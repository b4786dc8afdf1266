import { clipText, FedtuneError, toFedtuneError } from '@fedtune/shared';
import type { RoundAggregator } from '../engine/aggregation/round-aggregator.ts';
import { bySiteId } from '../engine/aggregation/aggregator-partial.ts';
import { PartialMessage, SiteAcceptanceMessage } from './partial-round-messages.ts';
import { firstIssue } from './schema-issue.ts';

/** The round attempt the leader is collecting. */
export interface LedgerRound {
  runId: string;
  round: number;
  attempt: number;
  selected: ReadonlySet<string>;
}

/**
 * The leader's account of one attempt of a plain-FedAvg round whose followers fold partial aggregates
 * (docs/cluster.md, "Partial aggregates"). It takes the followers' acceptance records (a site is accepted
 * once, by one node, in this round and attempt) and their partials, each merged only when it holds exactly
 * the sites that node recorded, with the same weights. A node whose partial never comes (it died) or is
 * refused leaves its sites out: `unmerged()` names them, so nothing is counted that is not in the sum, and
 * nothing twice. Everything a node sends is hostile: refused input throws a FedtuneError and changes nothing.
 */
export class ClusterPartialLedger {
  private readonly records = new Map<string, SiteAcceptanceMessage>();
  private readonly byNode = new Map<string, Set<string>>();
  private readonly merged = new Set<string>();

  constructor(
    private readonly round: LedgerRound,
    private readonly aggregator: RoundAggregator,
  ) {}

  /** A follower's acceptance record: returns it parsed, or throws (malformed, another round, not selected, duplicate). */
  record(raw: unknown): SiteAcceptanceMessage {
    const parsed = SiteAcceptanceMessage.safeParse(raw);
    if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`not a site acceptance record: ${firstIssue(parsed.error)}`));
    return this.recordParsed(parsed.data);
  }

  /** `record` for a record its caller has parsed with SiteAcceptanceMessage already (the leader parses each once). */
  recordParsed(r: SiteAcceptanceMessage): SiteAcceptanceMessage {
    this.sameRound(r);
    if (!this.round.selected.has(r.siteId)) throw new FedtuneError('not_selected', `site ${r.siteId} is not selected in round ${r.round}`);
    if (this.records.has(r.siteId) || this.aggregator.siteIds.has(r.siteId)) throw new FedtuneError('duplicate_result', `site ${r.siteId} is already accepted in round ${r.round}`);
    if (this.merged.has(r.node)) throw new FedtuneError('stale_round', `node ${r.node} already sent its partial for round ${r.round}`);
    if (r.effectiveExamples > r.numExamples) throw new FedtuneError('invalid_count', `site ${r.siteId} weighs ${r.effectiveExamples} examples but claimed ${r.numExamples}`);
    this.records.set(r.siteId, r);
    let sites = this.byNode.get(r.node);
    if (!sites) this.byNode.set(r.node, (sites = new Set()));
    sites.add(r.siteId);
    return r;
  }

  /** Nodes with accepted sites whose partial has not been merged yet. */
  get awaited(): string[] {
    return [...this.byNode.keys()].filter((n) => !this.merged.has(n)).sort();
  }

  /** A follower's partial: merged into the aggregator when it is exactly that node's recorded sites; else throws and merges nothing. */
  merge(raw: unknown): void {
    const parsed = PartialMessage.safeParse(raw);
    if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`not a partial message: ${firstIssue(parsed.error)}`));
    const m = parsed.data;
    this.sameRound(m);
    if (this.merged.has(m.node)) throw new FedtuneError('duplicate_result', `node ${m.node} already sent its partial for round ${m.round}`);
    const expected = this.byNode.get(m.node) ?? new Set<string>();
    const sites = (m.partial as { sites?: unknown } | null)?.sites;
    const same =
      Array.isArray(sites) &&
      sites.length === expected.size &&
      sites.every((s) => {
        const e = s as { siteId?: unknown; numExamples?: unknown } | null;
        // `expected` holds only site ids (strings): anything else in the list is not in it.
        const r = expected.has(e?.siteId as string) ? this.records.get(e!.siteId as string) : undefined;
        return r !== undefined && e!.numExamples === r.effectiveExamples;
      });
    if (!same) throw new FedtuneError('malformed_payload', `node ${m.node}'s partial does not hold exactly the ${expected.size} site(s) it accepted`);
    try {
      this.aggregator.merge(m.partial);
    } catch (err) {
      throw toFedtuneError(err);
    }
    this.merged.add(m.node);
  }

  /** Whether `node`'s partial was merged (an empty one too). */
  mergedFrom(node: string): boolean {
    return this.merged.has(node);
  }

  /** The records of sites whose updates are in the aggregate (merged partials), in site-id order. */
  accepted(): SiteAcceptanceMessage[] {
    return [...this.records.values()].filter((r) => this.merged.has(r.node)).sort((a, b) => bySiteId(a.siteId, b.siteId));
  }

  /** Sites a node accepted whose partial was never merged (the node died, or its partial was refused). */
  unmerged(): Array<{ siteId: string; node: string }> {
    return [...this.records.values()].filter((r) => !this.merged.has(r.node)).map((r) => ({ siteId: r.siteId, node: r.node })).sort((a, b) => bySiteId(a.siteId, b.siteId));
  }

  private sameRound(m: { runId: string; round: number; attempt: number }): void {
    if (m.runId !== this.round.runId) throw new FedtuneError('stale_round', clipText(`the message is of run ${m.runId}, not ${this.round.runId}`));
    if (m.round !== this.round.round || m.attempt !== this.round.attempt) throw new FedtuneError('stale_round', `the message is of round ${m.round} attempt ${m.attempt}, not round ${this.round.round} attempt ${this.round.attempt}`);
  }
}
