import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunDatabase } from '@fedtune/coordinator';
import { tempDir } from './helpers.ts';

/** RunDatabaseOptions.synchronous sets SQLite's `synchronous` on the connection (FULL = 2 fsyncs each commit; NORMAL = 1 does not, in WAL mode). */
describe('run database: synchronous', () => {
  it.each([
    { synchronous: undefined, pragma: 2 },
    { synchronous: 'full' as const, pragma: 2 },
    { synchronous: 'normal' as const, pragma: 1 },
  ])('synchronous $synchronous → PRAGMA synchronous $pragma (WAL)', ({ synchronous, pragma }) => {
    const db = new RunDatabase(join(tempDir(), 'fedtune.db'), synchronous ? { synchronous } : {});
    const raw = (db as unknown as { db: { pragma(q: string, o: { simple: true }): unknown } }).db;
    expect(raw.pragma('synchronous', { simple: true })).toBe(pragma);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
