import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

interface ReadSoFar {
  /** The file's inode: a log replaced by another is read again from its start. */
  ino: number;
  /** Bytes read: up to the end of the last whole line. */
  offset: number;
  sites: Set<string>;
}

/**
 * The sites that joined each run, from its audit log (`join` entries), read once: a log only grows, so each
 * question reads only what was appended since the last (a line still being written waits for its newline).
 * Reading the whole log per request made every site's download cost the coordinator the whole file, on the
 * event loop, and let a site of another run make it do that as often as it liked.
 */
export class AuditJoins {
  private readonly logs = new Map<string, ReadSoFar>();

  /** Whether `siteId` joined the run whose audit log is `auditPath` (false for a missing file). */
  joined(auditPath: string, siteId: string): boolean {
    let fd: number;
    try {
      fd = openSync(auditPath, 'r');
    } catch {
      this.logs.delete(auditPath);
      return false;
    }
    try {
      const { ino, size } = fstatSync(fd);
      let log = this.logs.get(auditPath);
      if (!log || log.ino !== ino || log.offset > size) {
        log = { ino, offset: 0, sites: new Set() };
        this.logs.set(auditPath, log);
      }
      if (size > log.offset) {
        const bytes = Buffer.alloc(size - log.offset);
        const got = readSync(fd, bytes, 0, bytes.length, log.offset);
        const end = bytes.subarray(0, got).lastIndexOf(0x0a) + 1;
        addJoins(bytes.toString('utf8', 0, end), log.sites);
        log.offset += end;
      }
      return log.sites.has(siteId);
    } finally {
      closeSync(fd);
    }
  }
}

function addJoins(text: string, sites: Set<string>): void {
  for (const line of text.split('\n')) {
    if (!line.includes('"join"')) continue;
    try {
      const e = JSON.parse(line) as { type?: unknown; data?: { siteId?: unknown } };
      if (e.type === 'join' && typeof e.data?.siteId === 'string') sites.add(e.data.siteId);
    } catch {
      // a broken line: the verifier names it; here it grants nothing
    }
  }
}
