import { decodeWeights, FedtuneError, type Weights } from '@fedtune/shared';
import { sha256OfBytes } from '../audit/audit-recorder.ts';
import { BLOB_AS_BUFFER } from './redis-blob-as-buffer.ts';
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
export async function storeEvaluationWeights(redis: ClusterRedis, prefix: string, bytes: Uint8Array, ttlMs: number): Promise<string> {
  const sha256 = sha256OfBytes(bytes);
  await redis.set(evaluationWeightsKey(prefix, sha256), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { PX: Math.max(1_000, Math.round(ttlMs)) });
  return sha256;
}

/** The leader: the copy is no longer needed (answered or given up). Failures are ignored: the key expires. */
export async function dropEvaluationWeights(redis: ClusterRedis, prefix: string, sha256: string): Promise<void> {
  await redis.del(evaluationWeightsKey(prefix, sha256)).catch(() => undefined);
}

/** A follower: the weights by their sha256, decoded. Throws FedtuneError('not_found' | 'payload_too_large' | 'model_integrity'). */
export async function loadEvaluationWeights(redis: ClusterRedis, prefix: string, sha256: string, maxBytes: number): Promise<Weights> {
  const raw = (await redis.withTypeMapping(BLOB_AS_BUFFER).get(evaluationWeightsKey(prefix, sha256))) as Buffer | null;
  if (!raw) throw new FedtuneError('not_found', `the weights to evaluate (${sha256.slice(0, 12)}…) are not in Redis`);
  if (raw.byteLength > maxBytes) throw new FedtuneError('payload_too_large', `the weights to evaluate are ${raw.byteLength} bytes, above ${maxBytes}`);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (sha256OfBytes(bytes) !== sha256) throw new FedtuneError('model_integrity', `the bytes under ${sha256.slice(0, 12)}… are not the weights to evaluate`);
  return decodeWeights(bytes);
}
