import { FedtuneError } from '@fedtune/shared';
import type { RemotePartialsAttemptStart } from '../engine/remote-partials.ts';

/** How the followers find an attempt's global weights (the plan's `weightsSha256` and `weightsFrom`). */
export interface RoundWeightsPlacement {
  weightsSha256: string;
  weightsFrom: 'sha256' | 'version';
}

export interface RoundWeightsPlacementOptions {
  /** Socket delivery: puts the encoded weights under `<prefix>:weights:<sha256>` (load-global-weights-for-round.ts); returns their sha256. */
  storeWeights(bytes: Uint8Array, ttlMs: number): Promise<string>;
  /**
   * HTTP delivery: publishes the bytes as model `version` (cluster-model-versions.ts) and resolves, with their
   * sha256, once the version is in Redis — so it is there before the plan that names it.
   */
  publishVersion?(version: number, bytes: Uint8Array): Promise<string>;
  /** False while the connection to Redis is known down: nothing is stored (no wait), the attempt relays. */
  redisReady?(): boolean;
  /** Longest wait for the store or the publish. Default 5 s. */
  storeTimeoutMs?: number;
}

/** The default longest wait for putting an attempt's weights in Redis. */
export const ROUND_WEIGHTS_STORE_TIMEOUT_MS = 5_000;

/**
 * Puts an attempt's global weights where the followers read them (docs/cluster.md, "Aggregation and
 * privacy"), once: under HTTP model delivery the round's model version is published to Redis anyway, so the
 * plan names that version and no second copy is written; under socket delivery the bytes go under their
 * sha256. Throws FedtuneError — 'transport' when Redis is known to be down (at once), 'timeout' past the
 * bound, or the store's own error — and the caller relays the attempt instead.
 */
export async function placeRoundWeights(options: RoundWeightsPlacementOptions, start: RemotePartialsAttemptStart): Promise<RoundWeightsPlacement> {
  if (options.redisReady && !options.redisReady()) throw new FedtuneError('transport', 'Redis is unreachable');
  const timeoutMs = options.storeTimeoutMs ?? ROUND_WEIGHTS_STORE_TIMEOUT_MS;
  if (start.config.modelDelivery === 'http' && options.publishVersion) {
    return { weightsSha256: await withTimeout(options.publishVersion(start.modelVersion, start.weightsBytes), timeoutMs), weightsFrom: 'version' };
  }
  const ttlMs = Math.max(60_000, 3 * start.config.roundTimeoutMs);
  return { weightsSha256: await withTimeout(options.storeWeights(start.weightsBytes, ttlMs), timeoutMs), weightsFrom: 'sha256' };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FedtuneError('timeout', `no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
