import type { EngineEvent } from '../../engine/round-engine.ts';

/** An engine event as the dashboard receives it: stamped with the time it happened. */
export type LiveEvent = EngineEvent & { at: string };

export type LiveListener = (event: LiveEvent) => void;

/**
 * The coordinator's engine events for the dashboard. start-coordinator publishes into it from the round
 * engine's `onEvent`, so the engine knows nothing of HTTP; the dashboard plugin streams it out. Keeps the
 * run's history (bounded) so a dashboard opened mid-run sees every round so far.
 */
export class LiveEvents {
  private readonly events: LiveEvent[] = [];
  private readonly listeners = new Set<LiveListener>();

  constructor(private readonly maxHistory = 10_000) {}

  publish(event: EngineEvent): void {
    const stamped = { ...event, at: new Date().toISOString() } as LiveEvent;
    this.events.push(stamped);
    if (this.events.length > this.maxHistory) this.events.splice(0, this.events.length - this.maxHistory);
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch {
        // A broken dashboard connection must never affect the run.
      }
    }
  }

  /** Every event so far (oldest first). */
  history(): readonly LiveEvent[] {
    return this.events;
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
