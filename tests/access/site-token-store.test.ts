import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunDatabase, SiteTokenStore } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

function dbBytes(path: string): Buffer {
  // WAL mode: recent writes may sit in the -wal file, so search it too.
  return Buffer.concat([path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}

describe('SiteTokenStore', () => {
  it('adds a site with a fresh 256-bit token, verifies it in constant time, and never stores it in clear', () => {
    const path = join(tempDir(), 'fedtune.db');
    const store = new SiteTokenStore(path);
    const token = store.add('hospital-a');
    const other = store.add('hospital-b');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
    expect(other).not.toBe(token);
    expect(store.verify('hospital-a', token)).toEqual({ ok: true });
    expect(store.verify('hospital-a', other)).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.verify('hospital-a', token.slice(0, -1))).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.verify('hospital-a', undefined)).toEqual({ ok: false, reason: 'token required' });
    expect(store.verify('hospital-z', token)).toEqual({ ok: false, reason: 'unknown site' });
    store.close();
    const bytes = dbBytes(path);
    expect(bytes.length).toBeGreaterThan(0);
    for (const t of [token, other]) {
      expect(bytes.includes(Buffer.from(t, 'utf8'))).toBe(false);
      expect(bytes.includes(Buffer.from(t, 'base64url'))).toBe(false);
    }
    // A second handle (another process) sees the same registry.
    const again = new SiteTokenStore(path);
    expect(again.verify('hospital-b', other)).toEqual({ ok: true });
    again.close();
  });

  it('revokes at once, even through another handle; a revoked name can be registered again with a new token', () => {
    const path = join(tempDir(), 'fedtune.db');
    const coordinatorSide = new SiteTokenStore(path);
    const cliSide = new SiteTokenStore(path);
    const token = cliSide.add('bank-1');
    expect(coordinatorSide.verify('bank-1', token).ok).toBe(true);
    expect(cliSide.revoke('bank-1')).toBe(true);
    expect(cliSide.revoke('bank-1')).toBe(false); // already revoked
    expect(cliSide.revoke('nobody')).toBe(false);
    expect(coordinatorSide.verify('bank-1', token)).toEqual({ ok: false, reason: 'token revoked' });
    expect(coordinatorSide.size).toBe(1); // revoked sites still count: tokens stay required
    const fresh = cliSide.add('bank-1');
    expect(coordinatorSide.verify('bank-1', fresh)).toEqual({ ok: true });
    expect(coordinatorSide.verify('bank-1', token)).toEqual({ ok: false, reason: 'invalid token' });
    coordinatorSide.close();
    cliSide.close();
  });

  it('refuses to overwrite an active site unless rotating, and rejects names a site could not join with', () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const first = store.add('site-1');
    expect(() => store.add('site-1')).toThrow(/already registered/);
    const rotated = store.add('site-1', { rotate: true });
    expect(store.verify('site-1', first).ok).toBe(false);
    expect(store.verify('site-1', rotated).ok).toBe(true);
    for (const bad of ['', 'has space', 'a/b', 'x'.repeat(129)]) expect(() => store.add(bad)).toThrow(/invalid site name/);
    store.close();
  });

  it('lists name, created, revoked and last used — never a token or hash', () => {
    const store = new SiteTokenStore(join(tempDir(), 'fedtune.db'));
    const a = store.add('a');
    store.add('b');
    store.verify('a', a);
    store.revoke('b');
    const rows = store.list();
    expect(rows.map((r) => r.name)).toEqual(['a', 'b']);
    for (const row of rows) for (const key of Object.keys(row)) expect(['name', 'createdAt', 'revokedAt', 'lastUsedAt']).toContain(key);
    expect(rows[0].lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(rows[1].revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(rows[1].lastUsedAt).toBeUndefined();
    expect(JSON.stringify(rows)).not.toContain(a);
    store.close();
  });

  it('shares fedtune.db with the run database, in its own table', () => {
    const path = join(tempDir(), 'fedtune.db');
    const store = new SiteTokenStore(path);
    const token = store.add('site-1');
    const runs = new RunDatabase(path);
    expect(runs.listRuns()).toEqual([]);
    runs.close();
    expect(store.verify('site-1', token).ok).toBe(true);
    store.close();
  });
});
