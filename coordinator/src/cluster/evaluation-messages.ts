import { z } from 'zod';
import { NodeId } from './cluster-options.ts';
import { MAX_FENCING_TOKEN } from './fencing-check.ts';

/**
 * The holdout evaluation a leader asks of a follower (docs/cluster.md, "Evaluation on a follower"): the
 * leader puts the weights in Redis under their sha256 (load-global-weights-for-round.ts) and names them
 * here; the follower that is asked evaluates them on its copy of the holdout and answers with the metrics
 * only, or why it could not. Every node reads every message: `to` says which one is asked, `id` which request.
 */
const RequestId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const EvaluationRequestMessage = z.strictObject({
  node: NodeId,
  /** The leader's fencing token: a replaced leader's requests are ignored. */
  token: z.number().int().min(1).max(MAX_FENCING_TOKEN),
  to: NodeId,
  id: RequestId,
  sha256: Sha256,
});
export type EvaluationRequestMessage = z.output<typeof EvaluationRequestMessage>;

/** The holdout metrics of the weights asked for: finite, accuracy a share, loss bounded (the leader adopts or refuses a model on them). */
export const EvaluationMetrics = z.strictObject({
  accuracy: z.number().min(0).max(1),
  loss: z.number().min(0).max(1e9),
});

export const EvaluationResultMessage = z
  .strictObject({
    node: NodeId,
    to: NodeId,
    id: RequestId,
    sha256: Sha256,
    metrics: EvaluationMetrics.optional(),
    /** Why the follower could not evaluate them (the leader then evaluates them itself). */
    error: z.string().max(500).optional(),
  })
  .refine((m) => (m.metrics === undefined) !== (m.error === undefined), { message: 'an evaluation result has either metrics or an error' });
export type EvaluationResultMessage = z.output<typeof EvaluationResultMessage>;
