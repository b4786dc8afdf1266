import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, RunDatabase, runFromReport } from '@fedtune/coordinator';
import { makeReport, makeRound, tempDir } from './helpers.ts';

describe('the run database (SQLite)', () => {
  it('records rounds with their accepted, rejected and failed lists, and lists them back exactly', () => {
    const db = new RunDatabase(join(tempDir(), 'fedtune.db'));
    expect(db.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const report = makeReport('run-a', 0);
    db.upsertRun(runFromReport(report));
    db.upsertRun({ ...runFromReport(makeReport('run-b', 0)), startedAt: '2025-02-01T00:00:00.000Z' });
    const r1 = makeRound(1, { federated: { sites: [{ siteId: 'site-1', accuracy: 0.9, loss: 0.3, numExamples: 40 }], accuracy: 0.9, worstSite: { siteId: 'site-1', accuracy: 0.9 } } });
    const r2 = makeRound(2, {
      attempts: 2,
      failed: [{ siteId: 'site-4', reason: 'no result within 1000 ms' }],
      rejected: [
        { siteId: 'site-3', code: 'stale_round', reason: 'round 2 closed before this result arrived' },
        { siteId: 'site-5', code: 'non_finite', reason: 'NaN' },
      ],
      global: { accuracy: 0.75, loss: NaN, probes: { backdoorSuccessRate: 0.1 } },
    });
    db.recordRound('run-a', r1);
    db.recordRound('run-a', r2);

    expect(db.getRounds('run-a')).toEqual([r1, r2]);
    expect(Object.is(db.getRounds('run-a')[1].global.loss, NaN)).toBe(true);
    expect(db.lastRound('run-a')).toBe(2);
    expect(db.getRounds('run-b')).toEqual([]);
    expect(db.listRuns().map((r) => r.runId)).toEqual(['run-b', 'run-a']);
    const run = db.getRun('run-a')!;
    expect(run).toMatchObject({ runId: 'run-a', status: 'running', roundsCompleted: 2, roundsPlanned: 10, backend: 'wasm', architecture: 'mlp', final: { accuracy: 0.75 } });
    expect(run.config).toEqual(report.config);
    expect(db.getRejections('run-a')).toEqual([
      { round: 1, siteId: 'site-3', kind: 'rejected', code: 'non_finite', reason: 'tensor 0 holds NaN' },
      { round: 2, siteId: 'site-3', kind: 'rejected', code: 'stale_round', reason: 'round 2 closed before this result arrived' },
      { round: 2, siteId: 'site-5', kind: 'rejected', code: 'non_finite', reason: 'NaN' },
      { round: 2, siteId: 'site-4', kind: 'failed', code: undefined, reason: 'no result within 1000 ms' },
    ]);
    expect(db.rejectionCounts('run-a')).toEqual({ non_finite: 2, stale_round: 1 });
    const metrics = db.getMetrics('run-a');
    expect(metrics).toContainEqual({ round: 1, scope: 'federated', name: 'accuracy', value: 0.9 });
    expect(metrics).toContainEqual({ round: 1, scope: 'site', siteId: 'site-2', name: 'train_loss', value: 0.45 });
    expect(metrics).toContainEqual({ round: 2, scope: 'global', name: 'probe.backdoorSuccessRate', value: 0.1 });
    expect(metrics).toContainEqual({ round: 2, scope: 'global', name: 'loss', value: null });

    // Recording a round again replaces it (a replay after resume never counts twice).
    db.recordRound('run-a', { ...r2, durationMs: 1 });
    expect(db.getRounds('run-a').map((r) => r.durationMs)).toEqual([r1.durationMs, 1]);
    expect(db.getRejections('run-a')).toHaveLength(4);
    expect(db.getRun('run-a')!.roundsCompleted).toBe(2);

    // Going back to an older checkpoint drops the later rounds and everything hanging off them.
    expect(db.deleteRoundsAfter('run-a', 1)).toBe(1);
    expect(db.getRounds('run-a')).toEqual([r1]);
    expect(db.getRejections('run-a')).toHaveLength(1);
    expect(db.getMetrics('run-a').every((m) => m.round === 1)).toBe(true);
    expect(db.getRun('run-a')!.roundsCompleted).toBe(1);
    db.close();
  });

  it('a failing round write leaves nothing of that round behind (one transaction per round)', () => {
    const db = new RunDatabase(join(tempDir(), 'fedtune.db'));
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    db.recordRound('run-a', makeRound(1));
    // A rejection without a reason violates NOT NULL halfway through the round's inserts.
    const bad = makeRound(2, { rejected: [{ siteId: 'x', code: 'non_finite', reason: null as unknown as string }] });
    expect(() => db.recordRound('run-a', bad)).toThrow();
    expect(db.lastRound('run-a')).toBe(1);
    expect(db.getMetrics('run-a').every((m) => m.round === 1)).toBe(true);
    expect(db.getRun('run-a')!.roundsCompleted).toBe(1);
    expect(() => db.recordRound('nope', makeRound(1))).toThrow(/upsertRun first/);
    db.close();
  });

  it('tracks sites: join, heartbeat, leave, rejoin', () => {
    const db = new RunDatabase(join(tempDir(), 'fedtune.db'));
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    db.upsertSite('run-a', { siteId: 'site-1', status: 'connected', backend: 'wasm', runtime: 'node', numExamples: 100, at: '2025-01-01T00:00:00.000Z' });
    db.upsertSite('run-a', { siteId: 'site-2', status: 'connected', backend: 'cpu', runtime: 'browser', at: '2025-01-01T00:00:01.000Z' });
    db.heartbeat('run-a', ['site-1', 'site-2'], '2025-01-01T00:00:05.000Z');
    db.upsertSite('run-a', { siteId: 'site-2', status: 'disconnected', reason: 'transport close', at: '2025-01-01T00:00:06.000Z' });
    expect(db.listSites('run-a')).toEqual([
      { siteId: 'site-1', status: 'connected', backend: 'wasm', runtime: 'node', numExamples: 100, joinedAt: '2025-01-01T00:00:00.000Z', lastSeen: '2025-01-01T00:00:05.000Z', leftReason: undefined },
      { siteId: 'site-2', status: 'disconnected', backend: 'cpu', runtime: 'browser', numExamples: undefined, joinedAt: '2025-01-01T00:00:01.000Z', lastSeen: '2025-01-01T00:00:06.000Z', leftReason: 'transport close' },
    ]);
    db.upsertSite('run-a', { siteId: 'site-2', status: 'connected', at: '2025-01-01T00:01:00.000Z' });
    expect(db.listSites('run-a')[1]).toMatchObject({ status: 'connected', joinedAt: '2025-01-01T00:01:00.000Z', leftReason: undefined, backend: 'cpu' });
    expect(db.disconnectAllSites('run-a', 'coordinator restarted')).toBe(2);
    expect(db.listSites('run-a').map((s) => s.status)).toEqual(['disconnected', 'disconnected']);
    db.close();
  });

  it("lists a run's sites a page at a time: after a site id, at most limit, in id order; other runs apart", () => {
    const db = new RunDatabase(join(tempDir(), 'fedtune.db'));
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    db.upsertRun(runFromReport(makeReport('run-b', 0)));
    const names = Array.from({ length: 2500 }, (_, i) => `site-${String(i).padStart(4, '0')}`);
    for (const siteId of [...names].reverse()) db.upsertSite('run-a', { siteId, status: 'connected', at: '2025-01-01T00:00:00.000Z' });
    db.upsertSite('run-b', { siteId: 'site-0001', status: 'connected' });
    const ids = (rows: Array<{ siteId: string }>) => rows.map((r) => r.siteId);
    expect(ids(db.listSites('run-a'))).toEqual(names);
    expect(ids(db.listSites('run-a', { limit: 3 }))).toEqual(names.slice(0, 3));
    expect(ids(db.listSites('run-a', { after: 'site-0997', limit: 3 }))).toEqual(['site-0998', 'site-0999', 'site-1000']);
    expect(ids(db.listSites('run-a', { after: 'site-2497' }))).toEqual(['site-2498', 'site-2499']);
    expect(ids(db.listSites('run-a', { after: 'site-2499', limit: 10 }))).toEqual([]);
    expect(ids(db.listSites('run-a', { after: '', limit: 1 }))).toEqual(['site-0000']);
    expect(ids(db.listSites('run-b', { limit: 1000 }))).toEqual(['site-0001']);
    db.close();
  });

  it('migrations are versioned by user_version and idempotent; data survives reopening', () => {
    const path = join(tempDir(), 'fedtune.db');
    const db = new RunDatabase(path);
    expect(db.schemaVersion).toBe(MIGRATIONS.length);
    expect(db.migrate()).toBe(0);
    db.upsertRun(runFromReport(makeReport('run-a', 0)));
    db.recordRound('run-a', makeRound(1));
    db.close();
    const again = new RunDatabase(path);
    expect(again.migrate()).toBe(0);
    expect(again.schemaVersion).toBe(MIGRATIONS.length);
    expect(again.getRounds('run-a')).toHaveLength(1);
    const tables = again.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>;
    expect(tables.map((t) => t.name)).toEqual(['metrics', 'rejections', 'rounds', 'runs', 'sites', 'updates']);
    again.close();
    // A database from a newer fedtune is refused with a clear message, not silently used.
    const raw = new Database(path);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => new RunDatabase(path)).toThrow(/newer fedtune/);
  });
});
