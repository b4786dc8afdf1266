import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { RunDatabase, runFromReport, WriteBatch } from '@fedtune/coordinator';
import { makeReport, makeRound, tempDir } from './helpers.ts';

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The sites table as another connection (another process) sees it. */
function sitesSeenFromOutside(path: string): Array<{ site_id: string; status: string; left_reason: string | null }> {
  const other = new Database(path, { readonly: true });
  try {
    return other.prepare('SELECT site_id, status, left_reason FROM sites ORDER BY site_id').all() as never;
  } finally {
    other.close();
  }
}

describe('batched site joins and leaves (write-batch.ts)', () => {
  it('writes a burst of joins and leaves on the next tick, in order, and not one by one', async () => {
    const path = join(tempDir(), 'fedtune.db');
    const db = new RunDatabase(path);
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    for (let i = 0; i < 300; i++) db.queueSite('run-a', { siteId: `site-${String(i).padStart(3, '0')}`, status: 'connected', backend: 'wasm', runtime: 'node', numExamples: i + 1 });
    for (let i = 0; i < 200; i += 2) db.queueSite('run-a', { siteId: `site-${String(i).padStart(3, '0')}`, status: 'disconnected', reason: 'transport close' });
    // Queued, not written: nothing is on disk yet, so no event paid for a synchronous fsync.
    expect(sitesSeenFromOutside(path)).toEqual([]);
    await nextTick();
    const rows = sitesSeenFromOutside(path);
    expect(rows).toHaveLength(300);
    // Order kept: a site that joined and then left is disconnected, with its reason.
    expect(rows[0]).toEqual({ site_id: 'site-000', status: 'disconnected', left_reason: 'transport close' });
    expect(rows[1]).toEqual({ site_id: 'site-001', status: 'connected', left_reason: null });
    expect(rows.filter((r) => r.status === 'connected')).toHaveLength(200);
    db.close();
  });

  it('reads, round records and close write the queue first (shutdown loses nothing)', () => {
    const path = join(tempDir(), 'fedtune.db');
    const db = new RunDatabase(path);
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    db.queueSite('run-a', { siteId: 'site-1', status: 'connected', backend: 'wasm', runtime: 'node', numExamples: 10 });
    // A read in the same tick sees the queued row.
    expect(db.listSites('run-a').map((s) => [s.siteId, s.status, s.numExamples])).toEqual([['site-1', 'connected', 10]]);
    db.queueSite('run-a', { siteId: 'site-2', status: 'connected' });
    db.recordRound('run-a', makeRound(1));
    expect(sitesSeenFromOutside(path).map((r) => r.site_id)).toEqual(['site-1', 'site-2']);
    db.queueSite('run-a', { siteId: 'site-3', status: 'connected' });
    db.queueSite('run-a', { siteId: 'site-1', status: 'disconnected', reason: 'shutdown' });
    db.close();
    expect(sitesSeenFromOutside(path)).toEqual([
      { site_id: 'site-1', status: 'disconnected', left_reason: 'shutdown' },
      { site_id: 'site-2', status: 'connected', left_reason: null },
      { site_id: 'site-3', status: 'connected', left_reason: null },
    ]);
  });

  it('keeps the time of the event, not of the write', async () => {
    const db = new RunDatabase(':memory:');
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    db.queueSite('run-a', { siteId: 'site-1', status: 'connected', at: '2025-01-01T00:00:00.000Z' });
    await nextTick();
    expect(db.listSites('run-a')[0]).toMatchObject({ joinedAt: '2025-01-01T00:00:00.000Z', lastSeen: '2025-01-01T00:00:00.000Z' });
    db.close();
  });

  it('flushes at once when maxPending items are queued, and reports a failed background write', async () => {
    const written: number[][] = [];
    const batch = new WriteBatch<number>((items) => written.push([...items]), 3);
    batch.add(1);
    batch.add(2);
    expect(written).toEqual([]);
    batch.add(3);
    expect(written).toEqual([[1, 2, 3]]);
    batch.add(4);
    expect(batch.size).toBe(1);
    await nextTick();
    expect(written).toEqual([[1, 2, 3], [4]]);

    const errors: unknown[] = [];
    const failing = new WriteBatch<number>(() => {
      throw new Error('disk full');
    }, 10, (err) => errors.push(err));
    failing.add(1);
    await nextTick();
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk full']);
    expect(failing.size).toBe(0);
  });

  it('a background write that fails reaches onWriteError instead of crashing the coordinator', async () => {
    const errors: string[] = [];
    const db = new RunDatabase(':memory:', { onWriteError: (err) => errors.push((err as Error).message) });
    // No run row: the sites table's foreign key refuses the insert.
    db.queueSite('no-such-run', { siteId: 'site-1', status: 'connected' });
    await nextTick();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/FOREIGN KEY/i);
    db.close();
  });
});
