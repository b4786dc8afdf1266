import type { Weights } from '@fedtune/shared';
import { loadWeightsBySha256, storeWeightsBySha256 } from './load-global-weights-for-round.ts';
import type { ClusterRedis } from './redis-connection.ts';

/**
 * The weights a leader asks a follower to evaluate (docs/cluster.md, "Evaluation on a follower"): a transient
 * copy in Redis under `<prefix>:evaluation:<sha256>`, written before the request, deleted by the leader once the
 * follower answered or the leader gave up, and expiring in any case (`ttlMs`). A follower reads them by that
 * hash and checks it: a key holding other bytes cannot be taken for them.
 */
export function evaluationWeightsKey(prefix: string, sha256: string): string {
  return `${prefix}:evaluation:${sha256}`;
}

/** The leader: stores the encoded weights; resolves with their sha256. */
export function storeEvaluationWeights(redis: ClusterRedis, prefix: string, bytes: Uint8Array, ttlMs: number): Promise<string> {
  return storeWeightsBySha256(redis, (sha256) => evaluationWeightsKey(prefix, sha256), bytes, ttlMs);
}

/** The leader: the copy is no longer needed (answered or given up). Failures are ignored: the key expires. */
export async function dropEvaluationWeights(redis: ClusterRedis, prefix: string, sha256: string): Promise<void> {
  await redis.del(evaluationWeightsKey(prefix, sha256)).catch(() => undefined);
}

/** A follower: the weights by their sha256, decoded. Throws FedtuneError('not_found' | 'payload_too_large' | 'model_integrity'). */
export function loadEvaluationWeights(redis: ClusterRedis, prefix: string, sha256: string, maxBytes: number): Promise<Weights> {
  return loadWeightsBySha256(redis, evaluationWeightsKey(prefix, sha256), sha256, maxBytes, 'the weights to evaluate');
}
