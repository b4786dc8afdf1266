import { z } from 'zod';
import { NodeId } from './cluster-options.ts';

/**
 * The messages coordinator nodes send each other over Redis (socket.io `serverSideEmit` on the streams
 * adapter). A node trusts no other node: every message is parsed here before it is used, and a site's own
 * message inside a relay is parsed again by the leader's link with the site message schemas.
 */
export const CLUSTER_EVENTS = {
  /** A site's message, received (and schema-checked) by a follower, for the leader's engine. */
  relay: 'fedtune:relay',
  /** A site's connection on a follower closed. */
  relayClosed: 'fedtune:relay-closed',
  /** A node is alive, with the site connections it holds. */
  nodeAlive: 'fedtune:node-alive',
  /** A node took the leader lease: the others drop their site connections so the sites join it afresh. */
  leader: 'fedtune:leader',
  /** The run ended: followers stop. */
  runDone: 'fedtune:run-done',
  /** The leader published a model version to Redis (cluster-model-versions.ts): followers read it once and serve it. */
  modelVersion: 'fedtune:model-version',
  /** Leader → followers: an attempt of a plain-FedAvg round whose followers fold partial aggregates (round-plan-messages.ts). */
  roundPlan: 'fedtune:round-plan',
  /** Leader → followers: the attempt closed; each follower with accepted sites sends its partial. */
  roundClose: 'fedtune:round-close',
  /** Follower → leader: one site's update validated and folded into the follower's partial (partial-round-messages.ts). */
  siteAccepted: 'fedtune:site-accepted',
  /** Follower → leader: several acceptance records in one message (record-batch-messages.ts, record-batcher.ts). */
  siteAcceptedBatch: 'fedtune:site-accepted-batch',
  /** Leader → a follower: messages for several of the follower's sites in one emit (site-sends-messages.ts, instruction-fanout.ts). */
  siteSends: 'fedtune:site-sends',
  /** Follower → leader: its partial aggregate at the attempt's close. */
  partial: 'fedtune:partial',
  /** Leader → a follower: evaluate these weights on your holdout (evaluation-messages.ts). */
  evaluationRequest: 'fedtune:evaluation-request',
  /** Follower → leader: the holdout metrics asked for, or why not. */
  evaluationResult: 'fedtune:evaluation-result',
} as const;

/** socket.io socket ids are 20 characters; a little room, never unbounded. */
const SocketId = z.string().min(1).max(64);
const EventName = z.string().min(1).max(64);

/** `address`: the site's network address as the relaying node saw it, on a hello (the leader's per-address hello limits key on it). */
/**
 * `tokenVerdict`: on a hello, the relaying node's check of the site's token against the site registry (the token
 * itself is not relayed: it never crosses Redis, where whoever reads the stream would take it).
 */
export const RelayedTokenVerdict = z.union([z.object({ ok: z.literal(true) }).strict(), z.object({ ok: z.literal(false), reason: z.enum(['token required', 'unknown site', 'invalid token', 'token revoked']) }).strict()]);
export const RelayMessage = z.object({ node: NodeId, socket: SocketId, event: EventName, payload: z.unknown(), address: z.string().max(64).optional(), tokenVerdict: RelayedTokenVerdict.optional() }).strict();
export type RelayMessage = z.output<typeof RelayMessage>;

export const RelayClosedMessage = z.object({ node: NodeId, socket: SocketId, reason: z.string().max(500) }).strict();
export type RelayClosedMessage = z.output<typeof RelayClosedMessage>;

export const NodeAliveMessage = z.object({ node: NodeId, sites: z.number().int().min(0).max(10_000_000) }).strict();
export type NodeAliveMessage = z.output<typeof NodeAliveMessage>;

export const LeaderMessage = z.object({ node: NodeId, token: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict();
export type LeaderMessage = z.output<typeof LeaderMessage>;

export const RunDoneMessage = z.object({ node: NodeId, token: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), runId: z.string().min(1).max(128), status: z.string().max(32) }).strict();
export type RunDoneMessage = z.output<typeof RunDoneMessage>;

export const ModelVersionMessage = z.object({ node: NodeId, token: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), version: z.number().int().min(0).max(2 ** 31 - 1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
export type ModelVersionMessage = z.output<typeof ModelVersionMessage>;
