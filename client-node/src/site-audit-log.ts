import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { moveTailAside } from '@fedtune/shared/node';
import { createHash } from 'node:crypto';
import { clipText, FedtuneError, type SiteAuditEntry, type SiteEvent } from '@fedtune/shared';

/**
 * A site's own audit log (`fedtune client --audit-log FILE`): one JSON line per update the site sent (its
 * run, round, message, the SHA-256 of the bytes sent, the example count and metrics it claimed), appended and
 * fsync'd at once. Hashes and counts only, never data. `fedtune audit verify AUDIT --site-log FILE` checks it
 * against the coordinator's log (docs/audit.md).
 */
export class SiteAuditLog {
  /**
   * `onWarning` hears, in one line, about a last line a crash had cut short: it is moved to `<path>.torn` and
   * cut from the log, so the next entry starts a line of its own (appended after it, both lines would be unreadable).
   */
  constructor(readonly path: string, private readonly siteId: string, private readonly now: () => Date = () => new Date(), onWarning?: (line: string) => void) {
    // Opened once here, so a path that cannot be written fails before the site joins.
    try {
      closeSync(openSync(path, 'a'));
      const torn = cutTornLastLine(path);
      if (torn) onWarning?.(`site audit log ${clipText(path)}: its last line was cut short by a crash (${torn.bytes} bytes): moved aside to ${clipText(torn.savedAs)}`);
    } catch (err) {
      throw new FedtuneError('config', `cannot write the site audit log ${clipText(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }

  /** Records an 'update-sent' event; other events are ignored. */
  record(event: SiteEvent): void {
    if (event.type !== 'update-sent') return;
    const metrics = event.metrics && Object.fromEntries(Object.entries(event.metrics).filter(([, v]) => Number.isFinite(v)));
    const entry: SiteAuditEntry = {
      at: this.now().toISOString(),
      runId: clipText(event.runId, 128),
      siteId: this.siteId,
      round: event.round,
      ...(event.attempt !== undefined ? { attempt: event.attempt } : {}),
      message: event.message,
      sha256: createHash('sha256').update(event.bytes).digest('hex'),
      ...(event.numExamples !== undefined ? { numExamples: event.numExamples } : {}),
      ...(metrics ? { metrics } : {}),
    };
    const fd = openSync(this.path, 'a');
    try {
      appendFileSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Moves the bytes after the file's last newline to `<path>.torn` (or `-2`, `-3`…: never over an earlier one) and cuts them from the file. */
function cutTornLastLine(path: string): { bytes: number; savedAs: string } | undefined {
  const bytes = readFileSync(path);
  const end = bytes.lastIndexOf(0x0a) + 1;
  if (end === bytes.length) return undefined;
  return { bytes: bytes.length - end, savedAs: moveTailAside(path, bytes, end, `${path}.torn`) };
}
