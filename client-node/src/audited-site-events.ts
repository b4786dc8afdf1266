import { clipText, type SiteEvent } from '@fedtune/shared';

interface EventRecorder {
  readonly path: string;
  record(event: SiteEvent): void;
}

/**
 * The site's event listener with its own audit log (`--audit-log`) in front: every event is recorded, then passed
 * on. A write that fails (the disk full, the file gone) is said on the site's log — one line per failure, naming
 * the file and the error's code — and the event still reaches `onEvent`: the site goes on answering its
 * coordinator (its client ignores a listener's errors), but an operator must learn that the log has a gap.
 */
export function auditedSiteEvents(audit: EventRecorder, onEvent?: (event: SiteEvent) => void, onLog?: (line: string) => void): (event: SiteEvent) => void {
  return (event) => {
    try {
      audit.record(event);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      onLog?.(`site audit log: could not record a '${event.type}' event in ${clipText(audit.path)}: ${clipText(why, 200)}; the log now misses it`);
    }
    onEvent?.(event);
  };
}
