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

/**
 * Nodes with different cluster secrets cannot form a cluster (docs/cluster.md#trust-and-deployment): the first
 * node with a secret stores a MAC of a fixed text under `<prefix>:secret-check`; a node whose secret gives
 * another MAC, or that has no secret while the cluster has one, is refused before it joins (one clear line).
 * Rotating the secret: stop every node, `DEL <prefix>:secret-check`, start them with the new one.
 */
export async function checkClusterSecret(redis: ClusterRedis, prefix: string, mac: ClusterMessageMac | undefined, where: string): Promise<void> {
  const key = secretCheckKey(prefix);
  if (!mac) {
    if ((await redis.get(key)) !== null) throw new FedtuneError('config', `the cluster on ${where} (prefix ${prefix}) authenticates its nodes with a secret: start this node with the same --cluster-secret-file`);
    return;
  }
  const proof = mac.tagText(`fedtune cluster secret check\n${prefix}`);
  const stored = (await redis.eval(CHECK_SCRIPT, { keys: [key], arguments: [proof] })) as unknown;
  if (stored !== proof) throw new FedtuneError('config', `this node's cluster secret is not the one of the cluster on ${where} (prefix ${prefix}): it does not join (every node needs the same --cluster-secret-file; to rotate it, stop every node and DEL ${key})`);
}
