import Database from 'better-sqlite3';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { dirname } from 'node:path';
import { ensureDirectory } from '../persistence/ensure-directory.ts';
import { openSqlite, retryWhileBusy, SQLITE_BUSY_TIMEOUT_MS } from '../persistence/open-sqlite.ts';

/**
 * The secret behind a site token or the admin token: 32 random bytes (base64url), stored only as SHA-256
 * over a per-token random salt and the token. A token has 2^256 candidates, so a slow KDF would add
 * nothing against guessing and would cost every check; the salt keeps equal hashes from ever revealing
 * anything across databases.
 */
function hashToken(salt: Buffer, token: string): Buffer {
  // A string is hashed as its UTF-8 bytes.
  return createHash('sha256').update(salt).update(token).digest();
}

/** A new token and what is stored of it. The token is returned once and never stored. */
export function newSaltedToken(): { token: string; salt: Buffer; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  return { token, salt, hash: hashToken(salt, token) };
}

/** Whether `token` is the one stored as (salt, hash), compared in constant time over equal-length hashes. */
export function saltedTokenMatches(salt: Buffer, hash: Buffer, token: string): boolean {
  const candidate = hashToken(salt, token);
  return candidate.length === hash.length && timingSafeEqual(candidate, hash);
}

/** Opens (creating the folder) the SQLite file that holds a token table, in WAL mode, and applies `schema`. */
export function openTokenDatabase(path: string, schema: string): Database.Database {
  ensureDirectory(dirname(path), 'database directory'); // ':memory:' is in '.', which exists
  const db = openSqlite(path, { wal: true });
  try {
    // `schema` is CREATE … IF NOT EXISTS: applying it again after a busy answer is harmless.
    retryWhileBusy(path, SQLITE_BUSY_TIMEOUT_MS, () => db.exec(schema));
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
