/**
 * The one "cluster recovered" line a node prints per Redis outage (docs/cluster.md, faults). Its parts
 * arrive in no fixed order: the Redis client's return (`restored`) and, on the leader, the next lease renewal
 * — the lease found in place (`renewed`: still leads) or gone and re-taken (`reestablished`: leads again).
 * The line is printed once both are known (a follower needs only the return); a lease re-taken with no
 * outage seen (it expired) gets its own line.
 */
export class RedisRecoveryReport {
  private outage?: { restoredMs?: number; reestablished?: number };

  constructor(
    private readonly where: string,
    private readonly nodeId: string,
    private readonly log: (line: string) => void,
  ) {}

  /** The connection to Redis was lost. */
  lost(): void {
    this.outage ??= {};
  }

  /** The connection is back after `outageMs`; `leading`: this node holds the lease. */
  restored(outageMs: number, leading: boolean): void {
    const outage = (this.outage ??= {});
    outage.restoredMs = outageMs;
    if (!leading) return this.say(`follows the leader`);
    if (outage.reestablished !== undefined) this.say(`leads again (lease re-established, fencing token ${outage.reestablished})`);
  }

  /** The leader's renewal found the lease gone and took it again with its token. */
  reestablished(token: number): void {
    if (!this.outage) return this.log(`cluster recovered: Redis at ${this.where} had lost the lease; node ${this.nodeId} leads again (lease re-established, fencing token ${token})`);
    if (this.outage.restoredMs === undefined) this.outage.reestablished = token;
    else this.say(`leads again (lease re-established, fencing token ${token})`);
  }

  /** The leader's renewal found the lease still in place. */
  renewed(token: number): void {
    if (this.outage?.restoredMs !== undefined) this.say(`still leads (fencing token ${token})`);
  }

  private say(what: string): void {
    this.log(`cluster recovered: Redis at ${this.where} is back after ${(this.outage!.restoredMs! / 1000).toFixed(1)} s; node ${this.nodeId} ${what}`);
    this.outage = undefined;
  }
}
