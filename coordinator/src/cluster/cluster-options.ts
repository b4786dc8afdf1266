import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** A node id: what logs, leases and relayed messages name a node by. */
export const NodeId = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'node id may use letters, digits, ".", "_" and "-"');

/**
 * How a coordinator node joins a cluster (docs/cluster.md). The defaults live here only; the CLI
 * (`fedtune coordinator --cluster URL --node-id ID`) only overrides them.
 */
export const ClusterOptions = z
  .object({
    /** The Redis server all nodes share: redis://HOST:PORT (rediss:// for TLS). */
    redisUrl: z.string().max(2048).regex(/^rediss?:\/\/[^\s]+$/, 'expected redis://HOST:PORT or rediss://HOST:PORT'),
    /** This node's id (default: node-<random hex>). Two live nodes must not share one. */
    nodeId: NodeId.default(() => `node-${randomBytes(3).toString('hex')}`),
    /** Prefix of every Redis key and stream of this cluster: several clusters can share one Redis. */
    prefix: z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/).default('fedtune'),
    /** The leader lease's time to live; the leader renews it every third of this. */
    leaseTtlMs: z.number().int().min(300).max(600_000).default(10_000),
    /** How often a node tells the others it is alive. */
    nodeHeartbeatMs: z.number().int().min(50).max(60_000).default(1_000),
    /** A node silent this long is taken as gone: the leader closes the site connections it relayed. */
    nodeTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** With a cluster secret: messages sealed further than this from a node's clock are refused (the nodes' clocks must agree within it). */
    macWindowMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    /** Most site connections the leader keeps for sites on other nodes (relayed hellos beyond it are refused). */
    maxRemoteSites: z.number().int().min(1).max(1_000_000).default(100_000),
    /**
     * The leader asks the followers, in turn, for each model's holdout evaluation (docs/cluster.md, "Evaluation on
     * a follower") and makes it itself when the one asked has not answered within this; 0: the leader evaluates every model itself.
     */
    evaluationTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
    /**
     * The leader's share of the sites relative to a follower's (docs/cluster.md, "Site placement"): a site that
     * offers other nodes (`fedtune client --server URL1,URL2,…`) is sent on from a node holding more than its
     * share. The leader also merges, evaluates, checkpoints and records every site's update, so it takes fewer;
     * 1: equal shares; 0: the leader holds sites only when no follower has room.
     */
    leaderWeight: z.number().min(0).max(1).default(0.7),
  })
  .refine((o) => o.nodeTimeoutMs > o.nodeHeartbeatMs, { message: 'nodeTimeoutMs must exceed nodeHeartbeatMs', path: ['nodeTimeoutMs'] });

export type ClusterOptions = z.output<typeof ClusterOptions>;
export type ClusterOptionsInput = z.input<typeof ClusterOptions>;

/** The Redis key names of a cluster. */
export function clusterKeys(prefix: string) {
  return {
    lease: `${prefix}:leader`,
    fence: `${prefix}:fence`,
    run: `${prefix}:run`,
    stream: `${prefix}:socket.io`,
  };
}
