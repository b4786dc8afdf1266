import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClusterModelVersions, CLUSTER_MODEL_VERSION_TTL_MS, CLUSTER_MODEL_VERSIONS_KEPT, connectClusterRedis, globalWeightsForVersion, modelVersionKey, ModelVersionMessage, type ClusterRedis } from '@fedtune/coordinator';
import { encodeWeights, FedtuneError, sha256Hex } from '@fedtune/shared';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

/** Encoded weights whose values say which version they are. */
function versionBytes(version: number): Uint8Array {
  return encodeWeights({ manifest: [{ name: 'w', shape: [2, 3], dtype: 'float32' }], arrays: [Float32Array.from({ length: 6 }, (_, i) => version * 10 + i)] });
}
const served = (version: number) => {
  const bytes = versionBytes(version);
  return { version, bytes, sha256: sha256Hex(bytes) };
};

describe.runIf(clusterDescribeMode() === 'run')('model versions shared by the nodes of a cluster (real Redis)', () => {
  let redis: RedisServer;
  let client: ClusterRedis;
  const warnings: string[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await connectClusterRedis(redis.url, { onLost: () => {}, onRestored: () => {} });
  });
  afterAll(async () => {
    await client?.close();
    await redis?.kill();
  });
  beforeEach(async () => {
    await client.flushAll();
    warnings.length = 0;
  });
  const store = (keep?: number) => new ClusterModelVersions({ redis: client, prefix: 'p', ...(keep !== undefined ? { keep } : {}), onWarning: (w) => warnings.push(w) });
  /** Waits for what the leader queued on the connection (a PING answers after it). */
  const settled = () => client.ping();

  it('a follower reads a published version once from Redis: the same bytes and sha-256; later asks are served from memory', async () => {
    const leader = store();
    const follower = store();
    const own = served(4);
    leader.publish(own);
    await settled();
    const first = await follower.get(4);
    expect(first!.sha256).toBe(sha256Hex(versionBytes(4)));
    expect(Buffer.from(first!.bytes).equals(Buffer.from(versionBytes(4)))).toBe(true);
    expect(first!.version).toBe(4);
    const again = await Promise.all([follower.get(4), follower.get(4)]);
    expect(again.every((v) => v === first)).toBe(true);
    expect(follower.fetchedFromRedis).toBe(1);
    // The leader serves its own from memory.
    expect(await leader.get(4)).toBe(own);
    expect(leader.fetchedFromRedis).toBe(0);
  });

  it('concurrent first asks for one version make one Redis read', async () => {
    const leader = store();
    const follower = store();
    leader.publish(served(1));
    await settled();
    const all = await Promise.all(Array.from({ length: 10 }, () => follower.get(1)));
    expect(new Set(all).size).toBe(1);
    expect(follower.fetchedFromRedis).toBe(1);
  });

  it('a version nobody published, or out of range, is undefined (404 at the route)', async () => {
    const follower = store();
    expect(await follower.get(7)).toBeUndefined();
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 31]) expect(await follower.get(bad)).toBeUndefined();
    expect(await follower.get(2 ** 31 - 1)).toBeUndefined();
    expect(follower.fetchedFromRedis).toBe(0);
  });

  it('the key has a TTL; the leader keeps only the last `keep` versions in Redis and every node the last `keep` in memory', async () => {
    expect(CLUSTER_MODEL_VERSIONS_KEPT).toBe(3);
    const leader = store();
    for (const v of [0, 1, 2, 3, 4]) leader.publish(served(v));
    await settled();
    const ttl = await client.pTTL(modelVersionKey('p', 4));
    expect(ttl).toBeGreaterThan(CLUSTER_MODEL_VERSION_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(CLUSTER_MODEL_VERSION_TTL_MS);
    expect(await client.keys('p:model:*')).toHaveLength(3);
    expect(await client.exists([modelVersionKey('p', 1), modelVersionKey('p', 2)])).toBe(1);
    expect(leader.held).toEqual([2, 3, 4]);
    const follower = store(2);
    for (const v of [4, 2, 3]) await follower.get(v);
    // The oldest goes first, whatever the order they were asked in.
    expect(follower.held.sort()).toEqual([3, 4]);
    const ttlOf = new ClusterModelVersions({ redis: client, prefix: 'q', ttlMs: 5_000 });
    ttlOf.publish(served(9));
    await settled();
    expect(await client.pTTL(modelVersionKey('q', 9))).toBeLessThanOrEqual(5_000);
    expect(await client.pTTL(modelVersionKey('q', 9))).toBeGreaterThan(3_000);
  });

  it('publishing a version again moves it to the newest: it is not the one deleted', async () => {
    const leader = store(2);
    leader.publish(served(1));
    leader.publish(served(2));
    leader.publish(served(1));
    leader.publish(served(3));
    await settled();
    expect((await client.keys('p:model:*')).sort()).toEqual(['p:model:1', 'p:model:3']);
  });

  it('bytes that do not hash to the stored sha-256 are refused, counted and warned about, never served', async () => {
    await client.hSet(modelVersionKey('p', 5), { sha256: sha256Hex(versionBytes(5)), bytes: Buffer.from(versionBytes(6)) });
    const follower = store();
    expect(await follower.get(5)).toBeUndefined();
    expect(follower.refusedIntegrity).toBe(1);
    expect(warnings.join('\n')).toMatch(/model version 5 in Redis hashes to [0-9a-f]{16}…, not the [0-9a-f]{16}… stored beside it: not served/);
    expect(follower.held).toEqual([]);
  });

  it('bytes that do not hash to the sha-256 the leader announced are refused (a stale or forged key)', async () => {
    const leader = store();
    leader.publish(served(2));
    await settled();
    const follower = store();
    follower.announce(2, sha256Hex(versionBytes(8)));
    expect(await follower.get(2)).toBeUndefined();
    expect(follower.refusedIntegrity).toBe(1);
    expect(warnings.at(-1)).toMatch(/the leader announced/);
  });

  it('an announcement with other bytes drops the copy held and reads the new one; an announcement prefetches', async () => {
    const leader = store();
    const follower = store();
    leader.publish(served(3));
    await settled();
    const old = await follower.get(3);
    // A new leader publishes version 3 with other bytes.
    const next = { version: 3, bytes: versionBytes(30), sha256: sha256Hex(versionBytes(30)) };
    store().publish(next);
    await settled();
    follower.announce(3, old!.sha256);
    expect(await follower.get(3)).toBe(old);
    follower.announce(3, next.sha256);
    const now = await follower.get(3);
    expect(now!.sha256).toBe(next.sha256);
    expect(follower.fetchedFromRedis).toBe(2);
    // Announced before anyone asks: read at once.
    leader.publish(served(4));
    await settled();
    follower.announce(4, served(4).sha256);
    await new Promise((r) => setTimeout(r, 200));
    expect(follower.held).toContain(4);
    expect(follower.fetchedFromRedis).toBe(3);
  });

  it('clear (a new leader) forgets what is held, and a read begun before it is not kept', async () => {
    const leader = store();
    const follower = store();
    leader.publish(served(1));
    await settled();
    await follower.get(1);
    follower.clear();
    expect(follower.held).toEqual([]);
    const pending = follower.get(1);
    follower.clear();
    expect(await pending).toBeUndefined();
    expect(follower.held).toEqual([]);
    expect((await follower.get(1))!.version).toBe(1);
  });

  it('a Redis error is a warning and an undefined version, not a crash', async () => {
    const broken = new ClusterModelVersions({ redis: { withTypeMapping: () => ({ hmGet: async () => Promise.reject(new Error('boom '.repeat(500))) }) } as unknown as ClusterRedis, prefix: 'p', onWarning: (w) => warnings.push(w) });
    expect(await broken.get(1)).toBeUndefined();
    expect(warnings[0]).toMatch(/^could not read model version 1 from Redis: boom/);
    expect(warnings[0].length).toBeLessThan(300);
  });

  it('globalWeightsForVersion: the decoded weights of a version; not_found and model_integrity as typed errors', async () => {
    const leader = store();
    leader.publish(served(2));
    await settled();
    const follower = store();
    const weights = await globalWeightsForVersion(2, follower);
    expect(weights.manifest).toEqual([{ name: 'w', shape: [2, 3], dtype: 'float32' }]);
    expect(Array.from(weights.arrays[0])).toEqual([20, 21, 22, 23, 24, 25]);
    expect(Array.from((await globalWeightsForVersion(2, follower, served(2).sha256)).arrays[0])).toEqual([20, 21, 22, 23, 24, 25]);
    const missing = await globalWeightsForVersion(9, follower).catch((e) => e);
    expect(missing).toBeInstanceOf(FedtuneError);
    expect((missing as FedtuneError).code).toBe('not_found');
    expect((missing as FedtuneError).message).toMatch(/model version 9 is not held/);
    const wrong = await globalWeightsForVersion(2, follower, sha256Hex(versionBytes(7))).catch((e) => e);
    expect((wrong as FedtuneError).code).toBe('model_integrity');
    const notWeights = await globalWeightsForVersion(1, { get: () => ({ version: 1, bytes: new Uint8Array(16), sha256: sha256Hex(new Uint8Array(16)) }) }).catch((e) => e);
    expect((notWeights as FedtuneError).code).toBe('codec');
  });

  it('the model-version announcement between nodes is a strict, bounded schema', () => {
    const ok = { node: 'node-1', token: 1, version: 3, sha256: 'a'.repeat(64) };
    expect(ModelVersionMessage.safeParse(ok).success).toBe(true);
    for (const bad of [
      { ...ok, version: -1 },
      { ...ok, version: 2 ** 31 },
      { ...ok, version: 1.5 },
      { ...ok, sha256: 'A'.repeat(64) },
      { ...ok, sha256: 'a'.repeat(63) },
      { ...ok, token: 0 },
      { ...ok, node: 'x'.repeat(65) },
      { ...ok, extra: 1 },
    ]) {
      expect(ModelVersionMessage.safeParse(bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
    }
  });
});
