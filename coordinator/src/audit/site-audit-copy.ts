import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { AuditEntry, siteViewOfAuditEntry } from '@fedtune/shared';

/**
 * A run's audit log as the site `siteId` may read it, line by line from the file (never whole in memory):
 * each entry through siteViewOfAuditEntry (other sites' data withheld, the chain kept). It ends at the first
 * line that is not a whole entry — a line being written, or a broken log: passed on, it could carry other
 * sites' data, and the site's verify reports the copy as ending there.
 */
export function siteAuditCopy(path: string, siteId: string): Readable {
  async function* lines(): AsyncGenerator<string> {
    const input = createReadStream(path, { encoding: 'utf8' });
    const reader = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of reader) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          return;
        }
        const entry = AuditEntry.safeParse(parsed);
        if (!entry.success) return;
        yield `${JSON.stringify(siteViewOfAuditEntry(entry.data, siteId))}\n`;
      }
    } finally {
      reader.close();
      input.destroy();
    }
  }
  return Readable.from(lines());
}
