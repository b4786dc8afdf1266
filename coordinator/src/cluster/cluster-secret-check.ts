import { FedtuneError } from '@fedtune/shared';
import type { ClusterMessageMac } from './cluster-message-mac.ts';
import type { ClusterRedis } from './redis-connection.ts';

/** Where a cluster keeps the proof of its secret: a MAC of a fixed text, which reveals nothing of the secret. */
export function secretCheckKey(prefix: string): string {
  return `${prefix}:secret-check`;
}

/** Sets the proof if the cluster has none yet; returns the cluster's proof. */
const CHECK_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return v`;

/** What a node without a secret stores at `<prefix>:secret-check` while it runs: a proof is 64 hex digits, never this. */
export const SECRETLESS_MARK = 'none';

/** Sets the secretless mark for `ttl` ms if the cluster has no proof (or refreshes it); returns what is stored. */
const SECRETLESS_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1] end
return v`;

/**
 * Marks the cluster as running nodes without a secret for `ttlMs` (a secretless node refreshes it while it runs,
 * every node heartbeat, so it lapses a node timeout after the last of them stops); returns what the key holds:
 * SECRETLESS_MARK, or a secret's proof if the cluster has one.
 */
export async function markSecretless(redis: ClusterRedis, prefix: string, ttlMs: number): Promise<string> {
  return String(await redis.eval(SECRETLESS_SCRIPT, { keys: [secretCheckKey(prefix)], arguments: [SECRETLESS_MARK, String(Math.max(1, Math.round(ttlMs)))] }));
}

/**
 * Nodes with different cluster secrets cannot form a cluster (docs/cluster.md#trust-and-deployment): the first
 * node with a secret stores a MAC of a fixed text under `<prefix>:secret-check`; a node whose secret gives
 * another MAC, or that has no secret while the cluster has one, is refused before it joins (one clear line).
 * Nodes without a secret mark the key too (SECRETLESS_MARK, expiring `secretlessTtlMs` after the last of them
 * stops), so a node with a secret is refused while they run: before, it joined a running secretless cluster, its
 * sealed messages were refused by the others, and its sites — and the run, once it took the lead — waited for ever.
 * Rotating the secret: stop every node, `DEL <prefix>:secret-check`, start them with the new one.
 */
export async function checkClusterSecret(redis: ClusterRedis, prefix: string, mac: ClusterMessageMac | undefined, where: string, secretlessTtlMs: number): Promise<void> {
  const key = secretCheckKey(prefix);
  if (!mac) {
    if ((await markSecretless(redis, prefix, secretlessTtlMs)) !== SECRETLESS_MARK) throw new FedtuneError('config', `the cluster on ${where} (prefix ${prefix}) authenticates its nodes with a secret: start this node with the same --cluster-secret-file`);
    return;
  }
  const proof = mac.tagText(`fedtune cluster secret check\n${prefix}`);
  const stored = (await redis.eval(CHECK_SCRIPT, { keys: [key], arguments: [proof] })) as unknown;
  if (stored === SECRETLESS_MARK) throw new FedtuneError('config', `the cluster on ${where} (prefix ${prefix}) has nodes running without a cluster secret: this node does not join (start every node with the same --cluster-secret-file, or none; their mark lapses ${Math.ceil(secretlessTtlMs / 1000)} s after the last of them stops)`);
  if (stored !== proof) throw new FedtuneError('config', `this node's cluster secret is not the one of the cluster on ${where} (prefix ${prefix}): it does not join (every node needs the same --cluster-secret-file; to rotate it, stop every node and DEL ${key})`);
}
