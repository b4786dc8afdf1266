import { randomBytes } from 'node:crypto';
import { FedtuneError } from '@fedtune/shared';
import type { ClusterRedis } from './redis-connection.ts';

/** Where a running node claims its id: `<prefix>:node:<id>`, holding a random nonce of that process. */
export function nodeIdClaimKey(prefix: string, nodeId: string): string {
  return `${prefix}:node:${nodeId}`;
}

/** Sets the claim if it is free or already this process's (refreshing its expiry); returns what the key holds. */
const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1] end
return v`;

/** Deletes the claim only if it is still this process's. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface NodeIdClaim {
  /** Extends the claim (every node heartbeat); false when another process holds the id now. */
  refresh(): Promise<boolean>;
  /** Gives the id up (the node stops). */
  release(): Promise<void>;
}

/**
 * Claims `nodeId` in the cluster for `ttlMs` (refreshed every heartbeat, so it lapses a node timeout after the node
 * stops). An id still claimed is waited for, up to the claim's lifetime and a heartbeat (a node restarted right after a
 * crash finds its old claim, which lapses); one claimed all that time belongs to another running node, and this one is
 * refused in one line. Before (until 2026-12-07) a second process with the same --node-id ran without a word, and as
 * the other nodes ignore messages carrying their own id, the sites placed on it were never welcomed and the run waited
 * for them for ever.
 */
export async function claimNodeId(redis: ClusterRedis, prefix: string, nodeId: string, ttlMs: number, where: string, options: { heartbeatMs: number; onWait?: (line: string) => void }): Promise<NodeIdClaim> {
  const key = nodeIdClaimKey(prefix, nodeId);
  const nonce = randomBytes(16).toString('hex');
  const claim = async () => String(await redis.eval(CLAIM_SCRIPT, { keys: [key], arguments: [nonce, String(Math.max(1, Math.round(ttlMs)))] })) === nonce;
  const deadline = Date.now() + ttlMs + options.heartbeatMs;
  let claimed = await claim();
  if (!claimed) options.onWait?.(`node id ${nodeId} is claimed by another process in the cluster; waiting up to ${Math.ceil((ttlMs + options.heartbeatMs) / 1000)} s for the claim to lapse (a node that just stopped)`);
  while (!claimed && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, options.heartbeatMs));
    claimed = await claim();
  }
  if (!claimed) {
    throw new FedtuneError('config', `node id ${nodeId} is in use by another running node of the cluster on ${where} (prefix ${prefix}): give each node its own --node-id (a stopped node's id is free ${Math.ceil(ttlMs / 1000)} s after it stops; this one waited that long)`);
  }
  return {
    refresh: claim,
    release: async () => {
      await redis.eval(RELEASE_SCRIPT, { keys: [key], arguments: [nonce] });
    },
  };
}
