import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { AuditEntry, siteViewOfAuditEntry } from '@fedtune/shared';

/** A line's JSON value, or undefined when it is not JSON (which no entry schema accepts). */
function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * A run's audit log as the site `siteId` may read it, line by line from the file (never whole in memory):
 * each entry through siteViewOfAuditEntry (other sites' data withheld, the chain kept). It ends at the first
 * line that is not a whole entry — a line being written, or a broken log: passed on, it could carry other
 * sites' data, and the site's verify reports the copy as ending there.
 */
export function siteAuditCopy(path: string, siteId: string): Readable {
  async function* lines(): AsyncGenerator<string> {
    // readline decodes the bytes as UTF-8 (a character split between two reads included).
    const input = createReadStream(path);
    const reader = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of reader) {
        const entry = AuditEntry.safeParse(parseJson(line));
        if (!entry.success) return;
        yield `${JSON.stringify(siteViewOfAuditEntry(entry.data, siteId))}\n`;
      }
      // Stryker disable next-line BlockStatement: equivalent: closing the reader and the file early only releases them before the garbage collector would
    } finally {
      reader.close();
      input.destroy();
    }
  }
  return Readable.from(lines());
}
