import { z } from 'zod';
import { FitResultMetrics } from '@fedtune/shared';
import { NodeId } from './cluster-options.ts';
import { MAX_FENCING_TOKEN } from './fencing-check.ts';

/**
 * What a follower sends the leader for a plain-FedAvg round it folds into a partial aggregate (docs/cluster.md,
 * "Partial aggregates"): one acceptance record per site update it validated and folded in, and at the round's
 * close its partial. The leader trusts no node: everything is parsed here, then checked against the round
 * (cluster-partial-ledger.ts) and merged by the aggregator, which refuses duplicates and other rounds.
 */
const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/);
const RunId = z.string().min(1).max(256);
const Count = z.number().int().min(1).max(2 ** 31);
/** The fencing token of the plan answered (fencing-check.ts): the leader refuses another ('stale_leader'). */
const Token = z.number().int().min(1).max(MAX_FENCING_TOKEN);

/** One site's update, validated and folded into the follower's partial (the round record needs these). */
export const SiteAcceptanceMessage = z.strictObject({
  node: NodeId,
  runId: RunId,
  round: z.number().int().min(1).max(2 ** 31),
  attempt: z.number().int().min(1).max(2 ** 31),
  token: Token,
  siteId: SiteId,
  /** The examples the site claimed, and what its update weighs in the sum (capped). */
  numExamples: Count,
  effectiveExamples: Count,
  /** ‖w − global‖, for the round's median norm. */
  norm: z.number().finite().min(0),
  metrics: FitResultMetrics,
  durationMs: z.number().finite().min(0).max(7 * 24 * 3_600_000),
  /** The update's size on the wire. */
  bytes: z.number().int().min(0).max(2 ** 31),
  /** The sha256 of the update's bytes, for the leader's audit log (the update itself stays on the follower). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type SiteAcceptanceMessage = z.output<typeof SiteAcceptanceMessage>;

/** A follower's partial at the round's close (`partial` is an AggregatorPartial, checked by the aggregator's merge). */
export const PartialMessage = z.strictObject({ node: NodeId, runId: RunId, round: z.number().int().min(1).max(2 ** 31), attempt: z.number().int().min(1).max(2 ** 31), token: Token, partial: z.unknown() });
export type PartialMessage = z.output<typeof PartialMessage>;
