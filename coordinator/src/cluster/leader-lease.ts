import { clusterKeys } from './cluster-options.ts';

/** The part of a node-redis client the lease uses. */
export interface LeaseRedis {
  readonly isReady: boolean;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Takes the lease if nobody holds it: a new fencing token (INCR), the lease `node:token` with a time to live. */
export const ACQUIRE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token`;

/**
 * Compare-and-renew: 1 when the lease is still ours (its time to live is reset); 2 when the lease is gone
 * (Redis restarted, or it expired) and no later token was handed out: it is ours again, and the fence
 * counter is raised to our token so tokens stay monotonic; 0 when another node holds it or a later token exists.
 */
export const RENEW_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v then return 0 end
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if fence > tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2`;

/** Deletes the lease if it is still ours. */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

export interface LeaderLeaseOptions {
  redis: LeaseRedis;
  prefix: string;
  nodeId: string;
  ttlMs: number;
  /** This node took the lease with this fencing token. */
  onAcquired(token: number): void;
  /** The lease was gone (Redis restarted or it expired) and this node holds it again with its token. */
  onReestablished?(token: number): void;
  /** The lease was still this node's and its time to live was reset (a renewal that found it in place). */
  onRenewed?(token: number): void;
  /** Another node holds the lease now (or a later token exists): this node must stop leading. */
  onLost(token: number): void;
  /** An attempt to take the lease found it held by another node: this node follows (called at every such attempt). */
  onFollowing?(): void;
  now?: () => number;
}

/**
 * One node's side of the leader lease (docs/cluster.md): `SET NX PX` through a Lua script that also hands
 * out a fencing token, renewed every `ttlMs / 3` with a compare-and-renew script. `tick` is one step of the
 * loop `start` runs; tests call it directly.
 */
export class LeaderLease {
  private token = 0;
  private timer?: ReturnType<typeof setInterval>;
  private notBefore = 0;
  private busy = false;
  private readonly keys;
  private readonly now: () => number;

  constructor(private readonly options: LeaderLeaseOptions) {
    this.keys = clusterKeys(options.prefix);
    this.now = options.now ?? Date.now;
  }

  /** The fencing token while this node leads, else 0. */
  get leaderToken(): number {
    return this.token;
  }

  get isLeader(): boolean {
    return this.token > 0;
  }

  private get value(): string {
    return `${this.options.nodeId}:${this.token}`;
  }

  /** Redis came back after an outage: a node that does not lead waits one lease time, so the leader re-takes its lease first. */
  redisRestored(): void {
    if (!this.isLeader) this.notBefore = this.now() + this.options.ttlMs;
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(1, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref?.();
  }

  /** One step: try to take the lease (not leading) or renew it (leading). Never throws. */
  async tick(): Promise<void> {
    const { redis } = this.options;
    if (this.busy || !redis.isReady) return;
    this.busy = true;
    try {
      if (!this.isLeader) {
        if (this.now() < this.notBefore) return;
        const token = Number(await redis.eval(ACQUIRE_SCRIPT, { keys: [this.keys.lease, this.keys.fence], arguments: [this.options.nodeId, String(this.options.ttlMs)] }));
        if (Number.isSafeInteger(token) && token > 0) {
          this.token = token;
          this.options.onAcquired(token);
        } else this.options.onFollowing?.();
        return;
      }
      const held = this.token;
      const result = Number(await redis.eval(RENEW_SCRIPT, { keys: [this.keys.lease, this.keys.fence], arguments: [this.value, String(this.options.ttlMs), String(held)] }));
      if (this.token !== held) return;
      if (result === 2) this.options.onReestablished?.(held);
      else if (result === 1) this.options.onRenewed?.(held);
      else {
        this.token = 0;
        this.options.onLost(held);
      }
    } catch {
      // Redis is unreachable: a leader keeps leading (nobody else can take the lease either); the next tick tries again.
    } finally {
      this.busy = false;
    }
  }

  /**
   * Another node announced itself leader with a later fencing token than this node's: this node steps down at
   * once (onLost), without waiting for its next renewal to find the lease taken. Returns whether it stepped down.
   */
  yieldTo(token: number): boolean {
    if (!this.isLeader || token <= this.token) return false;
    const held = this.token;
    this.token = 0;
    this.options.onLost(held);
    return true;
  }

  /** Stops renewing and, if this node leads, gives the lease up so another node can take it at once. */
  async stop(release = true): Promise<void> {
    clearInterval(this.timer);
    if (!release || !this.isLeader) return;
    const value = this.value;
    this.token = 0;
    try {
      await this.options.redis.eval(RELEASE_SCRIPT, { keys: [this.keys.lease], arguments: [value] });
    } catch {
      // Unreachable: the lease expires by itself.
    }
  }
}
