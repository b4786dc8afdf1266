import type Database from 'better-sqlite3';
import { newSaltedToken, openTokenDatabase, saltedTokenMatches } from './salted-token.ts';
import { FedtuneError } from '@fedtune/shared';

/** A registered site as `sites list` shows it. The token is never stored, so never listed. */
export interface SiteTokenRow {
  name: string;
  createdAt: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

/** Why a token was refused; the coordinator sends the reason to the site. */
export type TokenRefusal = 'token required' | 'unknown site' | 'invalid token' | 'token revoked';

export type TokenVerdict = { ok: true } | { ok: false; reason: TokenRefusal };

/** Same rule as a hello's siteId, so every registered name can join. */
const SITE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** The table lives next to the run tables in `<runs dir>/fedtune.db`, under its own name. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS site_tokens (
  name TEXT PRIMARY KEY,
  scheme TEXT NOT NULL,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  last_used_at TEXT
)`;

interface Row {
  name: string;
  scheme: string;
  salt: Buffer;
  hash: Buffer;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

/**
 * Site registrations with their token hashes, in SQLite (better-sqlite3). Every call reads the table,
 * so a `fedtune sites revoke` run in another process applies to the next connection at once.
 */
export class SiteTokenStore {
  readonly db: Database.Database;
  private readonly stmt;

  constructor(readonly path: string) {
    this.db = openTokenDatabase(path, SCHEMA);
    this.stmt = {
      get: this.db.prepare<[string], Row>('SELECT * FROM site_tokens WHERE name = ?'),
      upsert: this.db.prepare(`
        INSERT INTO site_tokens (name, scheme, salt, hash, created_at, revoked_at, last_used_at)
        VALUES (@name, 'sha256-salted', @salt, @hash, @at, NULL, NULL)
        ON CONFLICT (name) DO UPDATE SET scheme = excluded.scheme, salt = excluded.salt, hash = excluded.hash,
          created_at = excluded.created_at, revoked_at = NULL, last_used_at = NULL`),
      revoke: this.db.prepare('UPDATE site_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      used: this.db.prepare('UPDATE site_tokens SET last_used_at = ? WHERE name = ?'),
      list: this.db.prepare<[], Row>('SELECT * FROM site_tokens ORDER BY name'),
      count: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM site_tokens'),
    };
  }

  /**
   * Registers `name` and returns its new token: the only time it exists in clear. A name whose token was
   * revoked can be registered again; an active one only with `rotate` (its old token stops working).
   */
  add(name: string, options: { rotate?: boolean } = {}): string {
    if (!SITE_NAME.test(name)) throw new FedtuneError('config', `invalid site name ${JSON.stringify(name)}: use 1–128 letters, digits, ".", "_" or "-"`);
    const existing = this.stmt.get.get(name);
    if (existing && !existing.revoked_at && !options.rotate) {
      throw new FedtuneError('config', `site ${name} is already registered; revoke it first, or rotate its token (--rotate)`);
    }
    const { token, salt, hash } = newSaltedToken();
    this.stmt.upsert.run({ name, salt, hash, at: new Date().toISOString() });
    return token;
  }

  /** Revokes `name`'s token. Returns false if the site is unknown or already revoked. */
  revoke(name: string): boolean {
    return this.stmt.revoke.run(new Date().toISOString(), name).changes > 0;
  }

  /** Checks `token` for site `name` in constant time; a success is recorded as the site's last use. */
  verify(name: string, token: string | undefined): TokenVerdict {
    if (!token) return { ok: false, reason: 'token required' };
    const row = this.stmt.get.get(name);
    if (!row) return { ok: false, reason: 'unknown site' };
    if (!saltedTokenMatches(row.salt, row.hash, token)) return { ok: false, reason: 'invalid token' };
    if (row.revoked_at) return { ok: false, reason: 'token revoked' };
    this.stmt.used.run(new Date().toISOString(), name);
    return { ok: true };
  }

  list(): SiteTokenRow[] {
    return this.stmt.list.all().map((r) => ({
      name: r.name,
      createdAt: r.created_at,
      revokedAt: r.revoked_at ?? undefined,
      lastUsedAt: r.last_used_at ?? undefined,
    }));
  }

  /** Registered sites, revoked ones included (a registry whose sites are all revoked still requires tokens). */
  get size(): number {
    return this.stmt.count.get()!.n;
  }

  close(): void {
    this.db.close();
  }
}
