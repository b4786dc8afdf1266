import type { EngineEvent } from '../../engine/round-engine.ts';

/** An engine event as the dashboard receives it: stamped with the time it happened. */
export type LiveEvent = EngineEvent & { at: string };

export type LiveListener = (event: LiveEvent) => void;

/**
 * The run's own events: a few per round attempt, however many peers there are. The history keeps them for the
 * whole run; only the peers' events (joins, verdicts, refusals: as many as peers care to cause) are bounded.
 */
const RUN_EVENTS: ReadonlySet<EngineEvent['type']> = new Set<EngineEvent['type']>(['terms', 'pretrained', 'round-start', 'round-retry', 'round-end', 'robustness-start', 'robustness-end', 'site-report-start', 'complete']);

/**
 * The coordinator's engine events for the dashboard. start-coordinator publishes into it from the round
 * engine's `onEvent`, so the engine knows nothing of HTTP; the dashboard plugin streams it out. Keeps the
 * run's history so a dashboard opened mid-run sees every round so far: the run's own events all, the peers'
 * the latest `maxHistory` (peers joining under fresh names to be refused cannot push the rounds out).
 */
export class LiveEvents {
  /** [publication order, event]: the run's own events, and the peers' (bounded). */
  private readonly runEvents: Array<[number, LiveEvent]> = [];
  private readonly peerEvents: Array<[number, LiveEvent]> = [];
  private published = 0;
  private readonly listeners = new Set<LiveListener>();

  constructor(private readonly maxHistory = 10_000) {}

  publish(event: EngineEvent): void {
    const stamped = { ...event, at: new Date().toISOString() } as LiveEvent;
    (RUN_EVENTS.has(event.type) ? this.runEvents : this.peerEvents).push([this.published++, stamped]);
    if (this.peerEvents.length > this.maxHistory) this.peerEvents.splice(0, this.peerEvents.length - this.maxHistory);
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch {
        // A broken dashboard connection must never affect the run.
      }
    }
  }

  /** Every event kept (oldest first). */
  history(): readonly LiveEvent[] {
    const out: LiveEvent[] = [];
    let r = 0;
    let p = 0;
    while (r < this.runEvents.length || p < this.peerEvents.length) {
      const takeRun = p >= this.peerEvents.length || (r < this.runEvents.length && this.runEvents[r][0] < this.peerEvents[p][0]);
      out.push(takeRun ? this.runEvents[r++][1] : this.peerEvents[p++][1]);
    }
    return out;
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
