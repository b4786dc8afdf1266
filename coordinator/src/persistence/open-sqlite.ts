import Database from 'better-sqlite3';
import { FedtuneError } from '@fedtune/shared';

/**
 * Opens a SQLite file and reads its header. A path SQLite cannot open (a directory, /proc, no permission) or a
 * file that is not a SQLite database (`--db /etc/passwd`) is FedtuneError('persistence') naming it.
 */
export function openSqlite(path: string, options: { readonly?: boolean } = {}): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: options.readonly ?? false });
  } catch (cause) {
    throw new FedtuneError('persistence', `cannot open the database ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    db.pragma('schema_version'); // reads the header: SQLite opens lazily
  } catch (cause) {
    db.close();
    throw new FedtuneError('persistence', `cannot open the database ${path}: ${(cause as Error).message}`, { cause });
  }
  return db;
}
