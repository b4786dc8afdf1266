import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWeights, FedtuneError, type WeightsManifest } from '@fedtune/shared';
import { connectClusterRedis, type ClusterRedis } from '@fedtune/coordinator';
import { globalWeightsKey, loadGlobalWeightsForRound, storeGlobalWeightsForRound } from '../../coordinator/src/cluster/load-global-weights-for-round.ts';
import { sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const MANIFEST: WeightsManifest = [{ name: 'w', shape: [4], dtype: 'float32' }];
const BYTES = encodeWeights({ manifest: MANIFEST, arrays: [new Float32Array([0.5, -1, 2, 3.25])] });

async function codeOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as FedtuneError).code;
  }
  return 'none';
}

describe.runIf(clusterDescribeMode() === 'run')('the round\'s global weights for followers, in Redis by their sha256 (real redis-server)', () => {
  let redis: RedisServer;
  let client: ClusterRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await client?.close();
    await redis?.kill();
  });

  it('stored by the leader under prefix:weights:<sha256> with a TTL, loaded by a follower byte for byte', async () => {
    const sha = await storeGlobalWeightsForRound(client, 'p1', BYTES, 60_000);
    expect(sha).toBe(sha256OfBytes(BYTES));
    const ttl = await client.pTTL(globalWeightsKey('p1', sha));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const loaded = await loadGlobalWeightsForRound(client, 'p1', sha, BYTES.byteLength);
    expect(loaded.manifest).toEqual(MANIFEST);
    expect([...loaded.arrays[0]]).toEqual([0.5, -1, 2, 3.25]);
  });

  it('a TTL below a second is raised to one second', async () => {
    const sha = await storeGlobalWeightsForRound(client, 'p2', BYTES, 5);
    const ttl = await client.pTTL(globalWeightsKey('p2', sha));
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(1_000);
  });

  it('missing (not_found), other bytes under the key (model_integrity), larger than allowed (payload_too_large), not weights (codec)', async () => {
    const sha = sha256OfBytes(BYTES);
    expect(await codeOf(() => loadGlobalWeightsForRound(client, 'p3', sha, 1 << 20))).toBe('not_found');
    await client.set(globalWeightsKey('p3', sha), Buffer.from(BYTES).fill(7, 40));
    expect(await codeOf(() => loadGlobalWeightsForRound(client, 'p3', sha, 1 << 20))).toBe('model_integrity');
    await storeGlobalWeightsForRound(client, 'p4', BYTES, 60_000);
    expect(await codeOf(() => loadGlobalWeightsForRound(client, 'p4', sha, BYTES.byteLength - 1))).toBe('payload_too_large');
    const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const junkSha = await storeGlobalWeightsForRound(client, 'p5', junk, 60_000);
    expect(await codeOf(() => loadGlobalWeightsForRound(client, 'p5', junkSha, 1 << 20))).toBe('codec');
  });
});
