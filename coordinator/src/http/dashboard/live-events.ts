import type { EngineEvent } from '../../engine/round-engine.ts';
import { SiteTally, type SiteCounts } from './site-tally.ts';

/**
 * An engine event as the dashboard receives it: stamped with the time it happened. A site's join or departure
 * also carries the run's site counts after it (SiteTally), which the dashboard shows as they are.
 */
export type LiveEvent = EngineEvent & { at: string; siteCounts?: SiteCounts };

export type LiveListener = (event: LiveEvent) => void;

/** What a dashboard gets when it connects: the events to replay and the site counts so far. */
export interface LiveHistory {
  events: LiveEvent[];
  siteCounts: SiteCounts;
}

/**
 * The run's own events: a few per round attempt, however many peers there are. The history keeps them for the
 * whole run; only the peers' events (joins, verdicts, refusals: as many as peers care to cause) are bounded.
 */
const RUN_EVENTS: ReadonlySet<EngineEvent['type']> = new Set<EngineEvent['type']>(['terms', 'pretrained', 'round-start', 'round-retry', 'round-end', 'robustness-start', 'robustness-end', 'site-report-start', 'complete']);

/**
 * How many of the peers' latest events a new dashboard replays. The dashboard shows at most the latest 200 update
 * verdicts (MAX_UPDATE_ROWS in assets/dashboard.js) and 50 departed sites; its totals come from the counts sent
 * with the snapshot, and the sites there are replayed apart (SiteTally), so more peer events would add nothing
 * it draws — only cost: a peer churning names made every dashboard opened get 10,000 events.
 */
export const REPLAYED_PEER_EVENTS = 200;

/**
 * The coordinator's engine events for the dashboard. start-coordinator publishes into it from the round
 * engine's `onEvent`, so the engine knows nothing of HTTP; the dashboard plugin streams it out. A dashboard opened
 * mid-run replays the run's own events all (every round so far), the joins of the sites there now, and the peers'
 * latest `replayedPeerEvents`, with the site counts of the whole run (peers joining under fresh names cannot push
 * the rounds out, nor make opening a dashboard expensive).
 */
export class LiveEvents {
  /** [publication order, event]: the run's own events, and the peers' latest (bounded). */
  private readonly runEvents: Array<[number, LiveEvent]> = [];
  private readonly peerEvents: Array<[number, LiveEvent]> = [];
  private readonly tally = new SiteTally<LiveEvent>();
  private published = 0;
  private readonly listeners = new Set<LiveListener>();

  constructor(private readonly replayedPeerEvents = REPLAYED_PEER_EVENTS) {}

  publish(event: EngineEvent): void {
    const seq = this.published++;
    const stamped = { ...event, at: new Date().toISOString() } as LiveEvent;
    this.tally.add(seq, stamped);
    if (event.type === 'site-joined' || event.type === 'site-left') stamped.siteCounts = this.tally.siteCounts();
    (RUN_EVENTS.has(event.type) ? this.runEvents : this.peerEvents).push([seq, stamped]);
    // Trimmed in batches (a tenth of the bound): the array is not shifted on every event.
    if (this.peerEvents.length > this.replayedPeerEvents + Math.ceil(this.replayedPeerEvents / 10)) this.peerEvents.splice(0, this.peerEvents.length - this.replayedPeerEvents);
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch {
        // A broken dashboard connection must never affect the run.
      }
    }
  }

  /**
   * What a new dashboard replays, in publication order: the run's events, the joins of the sites there that are
   * older than the peers' window, and the peers' latest `replayedPeerEvents`; and the site counts so far.
   */
  history(): LiveHistory {
    const peers = this.peerEvents.slice(-this.replayedPeerEvents);
    const windowStart = peers.length > 0 ? peers[0][0] : this.published;
    const olderJoins: Array<[number, LiveEvent]> = [];
    for (const { seq, event } of this.tally.presentJoins()) if (seq < windowStart) olderJoins.push([seq, event]);
    const all = [...this.runEvents, ...olderJoins, ...peers].sort((a, b) => a[0] - b[0]);
    return { events: all.map(([, e]) => e), siteCounts: this.tally.siteCounts() };
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
