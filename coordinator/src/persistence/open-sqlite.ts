import Database from 'better-sqlite3';
import { FedtuneError } from '@fedtune/shared';

/** How long opening waits for another process that holds the database (SQLite's busy timeout, and the WAL switch's retries). */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export interface OpenSqliteOptions {
  readonly?: boolean;
  /** Switch a writable database to write-ahead logging (retrying while another process holds it). */
  wal?: boolean;
  /** How long to wait for another process holding the database; {@link SQLITE_BUSY_TIMEOUT_MS} by default. */
  busyTimeoutMs?: number;
}

const isBusy = (err: unknown): boolean => typeof (err as { code?: unknown })?.code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test((err as { code: string }).code);

/** Blocks this thread for `ms` (opening is synchronous, as better-sqlite3 is). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Opens a SQLite file and reads its header. A path SQLite cannot open (a directory, /proc, no permission) or a
 * file that is not a SQLite database (`--db /etc/passwd`) is FedtuneError('persistence') naming it.
 *
 * With `wal`, it switches the database to write-ahead logging. SQLite answers that switch with SQLITE_BUSY at
 * once, without its busy handler, while another process is opening or closing the same file (several
 * coordinators started at once on one `--out`): the switch is retried for the busy timeout, and a database
 * still held after it is one clear FedtuneError('persistence') line, never "internal: database is locked".
 */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): Database.Database {
  const timeout = options.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS;
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: options.readonly ?? false, timeout });
  } catch (cause) {
    throw new FedtuneError('persistence', `cannot open the database ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    retryWhileBusy(path, timeout, () => db.pragma('schema_version')); // reads the header: SQLite opens lazily
    if (options.wal && !options.readonly) retryWhileBusy(path, timeout, () => db.pragma('journal_mode = WAL'));
  } catch (cause) {
    db.close();
    if (cause instanceof FedtuneError) throw cause;
    throw new FedtuneError('persistence', `cannot open the database ${path}: ${(cause as Error).message}`, { cause });
  }
  return db;
}

/** Runs `step`, again after a short sleep while SQLite says the file is busy, for at most `timeoutMs`. */
export function retryWhileBusy<T>(path: string, timeoutMs: number, step: () => T): T {
  const started = Date.now();
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return step();
    } catch (cause) {
      if (!isBusy(cause)) throw cause;
      if (Date.now() - started >= timeoutMs) {
        throw new FedtuneError('persistence', `the database ${path} is locked by another process (still after ${Math.round(timeoutMs / 1000)} s): stop the other coordinator using it, or give this one its own --out`, { cause });
      }
      sleepSync(pause);
    }
  }
}
