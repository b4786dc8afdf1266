/**
 * The round weights a cluster's leader keeps in Redis (`<prefix>:weights:<sha256>`, load-global-weights-for-round.ts):
 * the current round's and the previous round's — a follower may still be validating a late update of the round
 * that just closed. Older ones are deleted as new ones are stored, instead of living out their time to live
 * (three round timeouts: ~360 MB at 60 quick rounds of the built-in model). A retried round stores the same
 * bytes under the same hash: it stays the newest, nothing is deleted for it.
 */
export class RecentRoundWeights {
  private readonly order: string[] = [];

  constructor(private readonly keep = 2) {}

  /** Notes `sha256` as the newest stored; returns the hashes no longer kept (oldest first), to delete. */
  add(sha256: string): string[] {
    const at = this.order.indexOf(sha256);
    if (at >= 0) this.order.splice(at, 1);
    this.order.push(sha256);
    return this.order.length > this.keep ? this.order.splice(0, this.order.length - this.keep) : [];
  }
}
