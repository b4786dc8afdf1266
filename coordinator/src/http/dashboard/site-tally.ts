import type { EngineEvent } from '../../engine/round-engine.ts';

/** What the dashboard's site counts show: joins of sites not known at the time, and how many of those left before the end. */
export interface SiteCounts {
  joined: number;
  left: number;
}

/**
 * Most departed sites remembered (a departed site that joins again is a return, not a new join). The same bound as
 * the dashboard's own list (MAX_KNOWN_SITES in assets/dashboard.js), so both count the same way.
 */
export const MAX_REMEMBERED_DEPARTED = 1000;

/**
 * The dashboard's site counts, kept by the coordinator with the rules of the dashboard's own (`apply` in
 * assets/dashboard.js) so that a dashboard replaying only a window of the peers' events still shows the whole run's
 * totals. Also the join of every site there now (joined, not left before the end): the dashboard lists those
 * however long ago they joined. Memory: the sites there (bounded by the engine's connection limits) and
 * MAX_REMEMBERED_DEPARTED departed ones.
 */
export class SiteTally<E extends EngineEvent = EngineEvent> {
  private readonly counts: SiteCounts = { joined: 0, left: 0 };
  /** Site id → its latest join (with its publication number), for the sites there. */
  private readonly present = new Map<string, { seq: number; event: E }>();
  /** Departed site ids, the longest gone first. */
  private readonly departed = new Set<string>();
  private final = false;

  /** Counts an event (published as number `seq`); a join is kept as given. */
  add(seq: number, event: E): void {
    if (event.type === 'complete') this.final = true;
    else if (event.type === 'site-joined') {
      if (this.departed.delete(event.siteId)) this.counts.left--;
      else if (!this.present.has(event.siteId)) this.counts.joined++;
      this.present.set(event.siteId, { seq, event });
    } else if (event.type === 'site-left') {
      // Leaving after the run ended is how a site finishes: it stays listed, uncounted.
      if (this.final || !this.present.delete(event.siteId)) return;
      this.counts.left++;
      this.departed.add(event.siteId);
      if (this.departed.size > MAX_REMEMBERED_DEPARTED) this.departed.delete(this.departed.values().next().value!);
    }
  }

  siteCounts(): SiteCounts {
    return { ...this.counts };
  }

  /** The joins of the sites there (or there at the end), with their publication numbers. */
  presentJoins(): Iterable<{ seq: number; event: E }> {
    return this.present.values();
  }
}
