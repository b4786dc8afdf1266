import type Database from 'better-sqlite3';
import { newSaltedToken, openTokenDatabase, saltedTokenMatches } from './salted-token.ts';

/** When the admin token was made, never the token. */
export interface AdminTokenInfo {
  createdAt: string;
  lastUsedAt?: string;
}

export type AdminTokenVerdict = { ok: true } | { ok: false; reason: 'token required' | 'no admin token' | 'invalid token' };

/** One row (id 1): the control plane has one admin token at a time. Next to the site tokens in `<runs dir>/fedtune.db`. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS admin_token (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  scheme TEXT NOT NULL,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT
)`;

interface Row {
  salt: Buffer;
  hash: Buffer;
  created_at: string;
  last_used_at: string | null;
}

/**
 * The admin token of the HTTP control plane (creating, starting and stopping runs; listing sites), in
 * SQLite. Only a salted hash is stored; `create` returns the token, the only time it exists in clear.
 * Every check reads the table, so `fedtune admin-token --rotate` in another process applies at once.
 */
export class AdminTokenStore {
  readonly db: Database.Database;
  private readonly stmt;

  constructor(readonly path: string) {
    this.db = openTokenDatabase(path, SCHEMA);
    this.stmt = {
      get: this.db.prepare<[], Row>('SELECT salt, hash, created_at, last_used_at FROM admin_token WHERE id = 1'),
      replace: this.db.prepare(`
        INSERT INTO admin_token (id, scheme, salt, hash, created_at, last_used_at) VALUES (1, 'sha256-salted', @salt, @hash, @at, NULL)
        ON CONFLICT (id) DO UPDATE SET scheme = excluded.scheme, salt = excluded.salt, hash = excluded.hash, created_at = excluded.created_at, last_used_at = NULL`),
      used: this.db.prepare('UPDATE admin_token SET last_used_at = ? WHERE id = 1'),
      remove: this.db.prepare('DELETE FROM admin_token WHERE id = 1'),
    };
  }

  /**
   * Makes a new admin token and returns it. Without `rotate` an existing token is kept and this throws
   * 'exists' (so a second `fedtune admin-token` does not lock out whoever holds the first); with it, the old
   * token stops working at once.
   */
  create(options: { rotate?: boolean } = {}): { token: string } | { exists: AdminTokenInfo } {
    const existing = this.info();
    if (existing && !options.rotate) return { exists: existing };
    const { token, salt, hash } = newSaltedToken();
    this.stmt.replace.run({ salt, hash, at: new Date().toISOString() });
    return { token };
  }

  /** Removes the admin token (the control plane then refuses everyone wherever it needs a token). */
  revoke(): boolean {
    return this.stmt.remove.run().changes > 0;
  }

  info(): AdminTokenInfo | undefined {
    const row = this.stmt.get.get();
    return row && { createdAt: row.created_at, lastUsedAt: row.last_used_at ?? undefined };
  }

  /**
   * Checks `token` in constant time (over equal-length hashes); a success is recorded as the last use. Callers
   * bound its length (the Authorization parsers take at most 512 characters), so hashing it is always cheap.
   */
  verify(token: string | undefined): AdminTokenVerdict {
    const row = this.stmt.get.get();
    if (!row) return { ok: false, reason: 'no admin token' };
    if (!token) return { ok: false, reason: 'token required' };
    if (!saltedTokenMatches(row.salt, row.hash, token)) return { ok: false, reason: 'invalid token' };
    this.stmt.used.run(new Date().toISOString());
    return { ok: true };
  }

  close(): void {
    this.db.close();
  }
}
