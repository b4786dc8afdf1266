import { z } from 'zod';
import { UpdateEncoding } from '@fedtune/shared';
import { NodeId } from './cluster-options.ts';
import { MAX_FENCING_TOKEN } from './fencing-check.ts';

/**
 * What the leader tells the followers about one attempt of a plain-FedAvg round (docs/cluster.md,
 * "Aggregation and privacy"): the checks a follower runs on its own sites' updates before folding them
 * into a partial aggregate, and the close. Redis is the trust boundary, but a follower still parses
 * strictly: a malformed plan is dropped and the follower relays every update as before.
 */
const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/);
const RunId = z.string().min(1).max(256);
const Positive = z.number().int().min(1).max(2 ** 31);
/** Most sites one plan lists (the selected sites on followers). */
export const MAX_PLAN_SITES = 100_000;
/** The leader's fencing token (fencing-check.ts): followers ignore plans and closes of a lower token than one they have seen. */
const Token = z.number().int().min(1).max(MAX_FENCING_TOKEN);

export const RoundPlanMessage = z.strictObject({
  node: NodeId,
  runId: RunId,
  round: Positive,
  attempt: Positive,
  token: Token,
  /** The global weights the sites train from: their version and the sha256 of their encoded bytes (load-global-weights-for-round.ts). */
  modelVersion: z.number().int().min(0).max(2 ** 31),
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * Where a follower reads those weights: 'version' — the published model version `modelVersion` (model
   * delivery over HTTP: the bytes are in Redis once, global-weights-by-version.ts); 'sha256' — the copy under
   * `<prefix>:weights:<sha256>` (socket delivery: load-global-weights-for-round.ts).
   */
  weightsFrom: z.enum(['sha256', 'version']),
  /** The selected sites held by followers: the node and socket the leader knows each by, and what it announced at hello. */
  sites: z
    .array(z.strictObject({ siteId: SiteId, node: NodeId, socket: z.string().min(1).max(64), announced: z.number().int().min(0).max(2 ** 31).optional() }))
    .max(MAX_PLAN_SITES),
  maxExamples: Positive,
  maxUpdateBytes: Positive,
  maxUpdateNorm: z.number().finite().positive().optional(),
  updateEncoding: UpdateEncoding.optional(),
  /** The update guard's example cap (null: no cap). */
  exampleCap: Positive.nullable(),
  /** Updates with a norm above this are not certain to be kept: they go to the leader individually (null: no bound). */
  streamBound: z.number().finite().min(0).nullable(),
});
export type RoundPlanMessage = z.output<typeof RoundPlanMessage>;

export const RoundCloseMessage = z.strictObject({ node: NodeId, runId: RunId, round: Positive, attempt: Positive, token: Token });
export type RoundCloseMessage = z.output<typeof RoundCloseMessage>;
