import { clipText, type SiteEvent } from '@fedtune/shared';

/** How many distinct failures a simulation echoes (the rest are counted at the end of nothing: a run has few kinds). */
export const MAX_ECHOED_FAILURES = 5;

/**
 * A simulated site's own account of why it failed. In a deployment it stays on the site (the coordinator gets one
 * fixed sentence per code: shared/src/client/wire-reasons.ts); in a simulation the user runs the sites too, and
 * without it a run whose every site refused said only "the details stay in the site's own log" — a log a
 * simulation does not have. Each distinct code and reason once, at most MAX_ECHOED_FAILURES, bounded.
 */
export class SiteFailureEcho {
  private readonly seen = new Set<string>();

  /** The line to print for this site event, if it is a failure not echoed before. */
  line(siteId: string, event: SiteEvent): string | undefined {
    if (event.type !== 'failed') return undefined;
    const key = `${event.code}\u0000${event.reason}`;
    if (this.seen.has(key) || this.seen.size >= MAX_ECHOED_FAILURES) return undefined;
    this.seen.add(key);
    return `${clipText(siteId, 128)} failed (its own account, which a real site keeps to itself): ${clipText(event.code, 64)}: ${clipText(event.reason)}`;
  }
}
