import { BLOB_AS_BUFFER } from './redis-blob-as-buffer.ts';
import { decodeWeights, FedtuneError, type Weights } from '@fedtune/shared';
import { sha256OfBytes } from '../audit/audit-recorder.ts';
import type { ClusterRedis } from './redis-connection.ts';

/**
 * How followers get the round's global weights (they validate their sites' updates against them): the
 * leader puts the encoded bytes in Redis under their sha256 (content-addressed, with a TTL) before it
 * sends the round's plan, and a follower reads them by that hash and checks it. Redis already carries
 * every message between the nodes and is reachable from all of them whichever node leads, so this adds
 * no endpoint and no new failure; a key of other bytes cannot be taken for them (the hash is checked).
 * Under `--model-delivery http` this copy is not written: the plan names the published model version instead
 * (round-weights-placement.ts, global-weights-by-version.ts).
 */
export function globalWeightsKey(prefix: string, sha256: string): string {
  return `${prefix}:weights:${sha256}`;
}

/** The leader: stores the round's encoded global weights (idempotent: the same bytes, the same key). Returns their sha256. */
export function storeGlobalWeightsForRound(redis: ClusterRedis, prefix: string, bytes: Uint8Array, ttlMs: number): Promise<string> {
  return storeWeightsBySha256(redis, (sha256) => globalWeightsKey(prefix, sha256), bytes, ttlMs);
}

/** Stores encoded weights under the key their sha256 names, with a time to live (≥ 1 s); resolves with the sha256. */
export async function storeWeightsBySha256(redis: ClusterRedis, keyOf: (sha256: string) => string, bytes: Uint8Array, ttlMs: number): Promise<string> {
  const sha256 = sha256OfBytes(bytes);
  await redis.set(keyOf(sha256), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { PX: Math.max(1_000, Math.round(ttlMs)) });
  return sha256;
}

/** A follower: the round's global weights by their sha256, decoded. Throws FedtuneError('not_found' | 'payload_too_large' | 'model_integrity') when they are missing or not those bytes. */
export function loadGlobalWeightsForRound(redis: ClusterRedis, prefix: string, sha256: string, maxBytes: number): Promise<Weights> {
  return loadWeightsBySha256(redis, globalWeightsKey(prefix, sha256), sha256, maxBytes, "the round's global weights");
}

/**
 * Reads encoded weights stored under `key` and checks they are the bytes `sha256` names, decoded; `what` names
 * them in errors. Throws FedtuneError('not_found' | 'payload_too_large' | 'model_integrity').
 */
export async function loadWeightsBySha256(redis: ClusterRedis, key: string, sha256: string, maxBytes: number, what: string): Promise<Weights> {
  const raw = (await redis.withTypeMapping(BLOB_AS_BUFFER).get(key)) as Buffer | null;
  if (!raw) throw new FedtuneError('not_found', `${what} (${sha256.slice(0, 12)}…) are not in Redis`);
  if (raw.byteLength > maxBytes) throw new FedtuneError('payload_too_large', `${what} are ${raw.byteLength} bytes, above ${maxBytes}`);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (sha256OfBytes(bytes) !== sha256) throw new FedtuneError('model_integrity', `the bytes under ${sha256.slice(0, 12)}… are not ${what}`);
  return decodeWeights(bytes);
}
