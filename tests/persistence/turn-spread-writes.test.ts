import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ROUND_SITES_PER_TURN, RunDatabase, runFromReport, TurnSpreadWrites } from '@fedtune/coordinator';
import type { RoundRecord } from '@fedtune/shared';
import { makeReport, makeRound, tempDir } from './helpers.ts';

/**
 * Large writes spread over turns of the event loop (turn-spread-writes.ts): a round record of many sites is
 * written `roundSitesPerTurn` sites per turn, still as one transaction; small writes are written at once.
 */

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A round record of `sites` accepted sites, each also evaluated (federated), and two refusals. */
function bigRound(round: number, sites: number): RoundRecord {
  const ids = Array.from({ length: sites }, (_, i) => `site-${String(i).padStart(4, '0')}`);
  return makeRound(round, {
    selected: ids,
    accepted: ids.map((siteId, i) => ({ siteId, numExamples: 10 + i, loss: 0.5 + i / 1e4, accuracy: 0.8, durationMs: 3 })),
    rejected: [{ siteId: 'site-x', code: 'non_finite', reason: 'tensor 0 holds NaN' }],
    failed: [{ siteId: 'site-y', reason: 'timed out' }],
    federated: { accuracy: 0.77, loss: 0.4, sites: ids.map((siteId) => ({ siteId, accuracy: 0.7, loss: 0.45, numExamples: 5 })) },
  } as Partial<RoundRecord>);
}

/** What another connection (another process) sees of a run's rounds: round rows, update rows, metric rows. */
function seenFromOutside(path: string, runId: string): { rounds: number; updates: number; metrics: number } {
  const other = new Database(path, { readonly: true });
  try {
    const count = (table: string) => (other.prepare(`SELECT count(*) AS n FROM ${table} WHERE run_id = ?`).get(runId) as { n: number }).n;
    return { rounds: count('rounds'), updates: count('updates'), metrics: count('metrics') };
  } finally {
    other.close();
  }
}

const writesOf = (db: RunDatabase) => (db as unknown as { roundWrites: TurnSpreadWrites }).roundWrites;

function openWithRun(path: string, roundSitesPerTurn?: number, errors?: string[]) {
  const db = new RunDatabase(path, { ...(roundSitesPerTurn === undefined ? {} : { roundSitesPerTurn }), onWriteError: (err, what) => errors?.push(`${what}: ${(err as Error).message}`) });
  db.upsertRun(runFromReport(makeReport('run-a', 0)));
  return db;
}

describe('round records spread over turns (turn-spread-writes.ts)', () => {
  it.each([
    { sitesPerTurn: 100, sites: 500, turnsAtLeast: 5 },
    { sitesPerTurn: 250, sites: 500, turnsAtLeast: 2 },
    { sitesPerTurn: undefined, sites: 500, turnsAtLeast: Math.ceil(500 / ROUND_SITES_PER_TURN) },
  ])('roundSitesPerTurn $sitesPerTurn: a $sites-site record is written over turns as one transaction, no turn running more than that many sites', async ({ sitesPerTurn, sites, turnsAtLeast }) => {
    const path = join(tempDir(), 'fedtune.db');
    const db = openWithRun(path, sitesPerTurn);
    db.recordRound('run-a', bigRound(1, sites));
    // Nothing committed yet: another connection sees no part of the round.
    expect(seenFromOutside(path, 'run-a')).toEqual({ rounds: 0, updates: 0, metrics: 0 });
    let turns = 0;
    while (writesOf(db).pending > 0) {
      await nextTurn();
      turns++;
      // Until its last step, the round stays invisible from outside (one transaction).
      if (writesOf(db).pending > 0) expect(seenFromOutside(path, 'run-a').rounds).toBe(0);
    }
    expect(turns).toBeGreaterThanOrEqual(turnsAtLeast);
    expect(writesOf(db).mostStepsInATurn).toBeLessThanOrEqual(sitesPerTurn ?? ROUND_SITES_PER_TURN);
    expect(writesOf(db).spreadWrites).toBe(1);
    // Every row: the round, one update per site, 2 training + 2 evaluation metrics per site, 2 global + 1 federated.
    expect(seenFromOutside(path, 'run-a')).toEqual({ rounds: 1, updates: sites, metrics: sites * 4 + 3 });
    db.close();
  });

  it('the rows written over turns are exactly those written at once', async () => {
    const spread = openWithRun(join(tempDir(), 'fedtune.db'), 7);
    const atOnce = openWithRun(join(tempDir(), 'fedtune.db'), 100_000);
    for (const db of [spread, atOnce]) {
      db.recordRound('run-a', bigRound(1, 60), '2026-12-06T10:00:00.000Z');
      db.recordRound('run-a', bigRound(2, 45), '2026-12-06T10:00:01.000Z');
    }
    // The second record completed the first before queueing behind it (a write completes what is pending first).
    expect(writesOf(atOnce).pending).toBe(0);
    expect(writesOf(spread).pending).toBeGreaterThan(0);
    while (writesOf(spread).pending > 0) await nextTurn();
    expect(writesOf(spread).spreadWrites).toBe(2);
    expect(writesOf(atOnce).spreadWrites).toBe(0);
    for (const read of ['getRounds', 'getMetrics', 'getRejections', 'rejectionCounts', 'lastRound', 'getRun'] as const) {
      expect((spread[read] as (id: string) => unknown)('run-a'), read).toEqual((atOnce[read] as (id: string) => unknown)('run-a'));
    }
    spread.close();
    atOnce.close();
  });

  it('a read, a later write and close complete a record still being written (nothing partial is ever read)', () => {
    const path = join(tempDir(), 'fedtune.db');
    const db = openWithRun(path, 10);
    db.recordRound('run-a', bigRound(1, 200));
    expect(writesOf(db).pending).toBeGreaterThan(0);
    // A read on the same connection: the record is completed first, so all of it is there.
    expect(db.getMetrics('run-a').filter((m) => m.round === 1)).toHaveLength(200 * 4 + 3);
    expect(writesOf(db).pending).toBe(0);
    expect(seenFromOutside(path, 'run-a')).toEqual({ rounds: 1, updates: 200, metrics: 803 });
    // A second record, then close at once: close completes it.
    db.recordRound('run-a', bigRound(2, 200));
    expect(seenFromOutside(path, 'run-a').rounds).toBe(1);
    db.close();
    expect(seenFromOutside(path, 'run-a')).toEqual({ rounds: 2, updates: 400, metrics: 1606 });
    const reopened = new RunDatabase(path);
    expect(reopened.lastRound('run-a')).toBe(2);
    expect(reopened.getRounds('run-a').map((r) => r.accepted.length)).toEqual([200, 200]);
    reopened.close();
  });

  it('site joins queued while a record is being written are committed with it, in order', async () => {
    const path = join(tempDir(), 'fedtune.db');
    const db = openWithRun(path, 10);
    db.recordRound('run-a', bigRound(1, 100));
    db.queueSite('run-a', { siteId: 'late-site', status: 'connected', backend: 'wasm', runtime: 'node', numExamples: 3 });
    while (writesOf(db).pending > 0) await nextTurn();
    await nextTurn();
    expect(db.listSites('run-a').map((s) => s.siteId)).toEqual(['late-site']);
    expect(seenFromOutside(path, 'run-a').updates).toBe(100);
    db.close();
  });
});

describe('TurnSpreadWrites on its own', () => {
  function table() {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)');
    const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const rows = () => db.prepare('SELECT k FROM t ORDER BY k').all().map((r) => (r as { k: number }).k);
    return { db, insert, rows };
  }

  it('a write of at most stepsPerTurn steps runs at once, in its own transaction; a step that throws rolls it back and throws', () => {
    const { db, insert, rows } = table();
    const errors: unknown[] = [];
    const writes = new TurnSpreadWrites(db, 3, (e) => errors.push(e));
    writes.write([() => insert.run(1, 'a'), () => insert.run(2, 'b'), () => insert.run(3, 'c')]);
    expect(rows()).toEqual([1, 2, 3]);
    expect(db.inTransaction).toBe(false);
    expect(() => writes.write([() => insert.run(4, 'd'), () => insert.run(1, 'dup')])).toThrow(/UNIQUE/);
    expect(rows()).toEqual([1, 2, 3]);
    expect(errors).toEqual([]);
    expect(writes.spreadWrites).toBe(0);
  });

  it('a step that throws in a spread write rolls back all of that write, is reported, and the next write goes on', async () => {
    const { db, insert, rows } = table();
    const errors: string[] = [];
    const writes = new TurnSpreadWrites(db, 2, (e) => errors.push((e as Error).message));
    writes.write([() => insert.run(10, 'a'), () => insert.run(11, 'b'), () => insert.run(12, 'c'), () => insert.run(10, 'dup'), () => insert.run(13, 'never')]);
    writes.write([() => insert.run(20, 'x'), () => insert.run(21, 'y'), () => insert.run(22, 'z')]);
    expect(rows()).toEqual([]);
    for (let k = 0; k < 10 && writes.pending > 0; k++) await nextTurn();
    expect(writes.pending).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/UNIQUE/);
    expect(rows()).toEqual([20, 21, 22]);
    expect(db.inTransaction).toBe(false);
    expect(writes.mostStepsInATurn).toBe(2);
  });

  it('writes run in the order given: a small write behind a spread one waits for it', async () => {
    const { db, insert } = table();
    const order: string[] = [];
    const writes = new TurnSpreadWrites(db, 2, () => undefined);
    writes.write([1, 2, 3, 4, 5].map((k) => () => (insert.run(k, 'big'), order.push(`big ${k}`))));
    writes.write([() => (insert.run(6, 'small'), order.push('small'))]);
    expect(order).toEqual([]);
    writes.finish();
    expect(order).toEqual(['big 1', 'big 2', 'big 3', 'big 4', 'big 5', 'small']);
    expect(db.inTransaction).toBe(false);
  });

  it('a write made inside a transaction of the connection runs at once, as a savepoint of it (nothing waits for it)', () => {
    const { db, insert, rows } = table();
    const writes = new TurnSpreadWrites(db, 1, () => undefined);
    db.transaction(() => {
      insert.run(1, 'outer');
      writes.write([() => insert.run(2, 'a'), () => insert.run(3, 'b')]);
      writes.finish();
    })();
    expect(rows()).toEqual([1, 2, 3]);
    expect(writes.pending).toBe(0);
  });
});
