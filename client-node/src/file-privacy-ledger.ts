import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { makeDirectories } from '@fedtune/shared/node';
import { dirname, join } from 'node:path';
import { clipText, encodeLedgerLine, FedtuneError, parseLedgerText, PrivacyLedgerAccounts, type PrivacyLedger, type PrivacyLedgerEntry } from '@fedtune/shared';

/** Where `fedtune client` keeps its ledger when --privacy-ledger is not given: `.fedtune/privacy-ledger.jsonl` under the working directory. */
export function defaultPrivacyLedgerPath(cwd: string = process.cwd()): string {
  return join(cwd, '.fedtune', 'privacy-ledger.jsonl');
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the file's own fsync still holds its content.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The Node site's privacy ledger (docs/privacy.md#privacy-ledger): an append-only JSON-lines file, one
 * checksummed entry per line, each append fsynced before `record` returns. On open, a torn last line (a
 * crash mid-append) is cut off with a warning; any other corrupt line is a FedtuneError('persistence')
 * naming the file — the ledger is never silently reset.
 */
export class FilePrivacyLedger extends PrivacyLedgerAccounts implements PrivacyLedger {
  private constructor(
    readonly path: string,
    entries: PrivacyLedgerEntry[],
  ) {
    super(entries);
  }

  /** Opens (or creates) the ledger at `path`; `onWarning` hears about a torn last line that was dropped. */
  static open(path: string, onWarning: (line: string) => void = (line) => console.warn(line)): FilePrivacyLedger {
    let text = '';
    try {
      if (existsSync(path)) text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new FedtuneError('persistence', `cannot read the privacy ledger ${path}: ${(err as Error).message}`, { cause: err });
    }
    const parsed = parseLedgerText(text, path);
    let ledger: FilePrivacyLedger;
    try {
      ledger = new FilePrivacyLedger(path, parsed.entries);
    } catch (err) {
      throw new FedtuneError('persistence', `privacy ledger ${path} is inconsistent: ${(err as Error).message}`, { cause: err });
    }
    if (parsed.tornLine !== undefined) {
      // Cut the torn bytes so the next entry starts on a line of its own.
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, Buffer.byteLength(text.slice(0, parsed.validLength), 'utf8'));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      onWarning(`privacy ledger ${path}: ignored an incomplete last line (a crash while writing it): ${JSON.stringify(clipText(parsed.tornLine, 200))}`);
    }
    return ledger;
  }

  /** Appends the entry and fsyncs the file (and, when it is new, its directory) before returning. */
  record(entry: PrivacyLedgerEntry): void {
    // Into the index first (it refuses an entry that lowers a run's ε): if the write then fails, this process
    // over-counts, the safe direction, and the error keeps the update from being sent.
    this.apply(entry);
    const line = Buffer.from(encodeLedgerLine(entry), 'utf8');
    const created = !existsSync(this.path);
    try {
      if (created) makeDirectories(dirname(this.path));
      const fd = openSync(this.path, 'a');
      try {
        let off = 0;
        while (off < line.byteLength) off += writeSync(fd, line, off, line.byteLength - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (created) fsyncDir(dirname(this.path));
    } catch (err) {
      throw new FedtuneError('persistence', `cannot write the privacy ledger ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }
}
