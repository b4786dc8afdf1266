import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { FedtuneError, type RoundRecord, type RunReport } from '@fedtune/shared';
import { MIGRATIONS } from './migrations.ts';
import { decodeState, encodeState } from './state-codec.ts';
import { TurnSpreadWrites } from './turn-spread-writes.ts';
import { WriteBatch } from './write-batch.ts';
import { ensureDirectory } from './ensure-directory.ts';
import { openSqlite } from './open-sqlite.ts';

export interface RunDatabaseOptions {
  /** SQLite `synchronous`: 'full' (default) survives power loss; 'normal' survives a process crash only. */
  synchronous?: 'full' | 'normal';
  readonly?: boolean;
  /**
   * Where a failed background write is reported — queued site rows, or a round record written over several
   * turns — with what it was (default: ignored; the database is a record).
   */
  onWriteError?: (err: unknown, what: 'site joins/leaves' | 'a round record') => void;
  /** Sites of a round record written per turn of the event loop (a few rows each); a smaller record is written at once. */
  roundSitesPerTurn?: number;
}

/** A round record's sites written per turn: ~150 rows, 1–3 ms here, where 500 sites at once held the loop 16–115 ms (with its fsync). */
export const ROUND_SITES_PER_TURN = 50;

/** What `upsertRun` writes. */
export interface RunUpsert {
  runId: string;
  status: RunReport['status'];
  config: Record<string, unknown>;
  startedAt: string;
  updatedAt?: string;
  backend?: string;
  architecture?: string;
  roundsPlanned?: number;
  final?: { accuracy: number; loss: number };
  aborted?: string;
}

export interface RunRow {
  runId: string;
  status: RunReport['status'];
  config: Record<string, unknown>;
  backend?: string;
  architecture?: string;
  roundsPlanned?: number;
  roundsCompleted: number;
  final?: { accuracy: number; loss: number };
  aborted?: string;
  startedAt: string;
  updatedAt: string;
}

export type SiteStatus = 'connected' | 'disconnected';

export interface SiteUpsert {
  siteId: string;
  status: SiteStatus;
  backend?: string;
  runtime?: string;
  numExamples?: number;
  /** Defaults to now. */
  at?: string;
  /** Why a site left (status 'disconnected'). */
  reason?: string;
}

export interface SiteRow {
  siteId: string;
  status: SiteStatus;
  backend?: string;
  runtime?: string;
  numExamples?: number;
  joinedAt?: string;
  lastSeen: string;
  leftReason?: string;
}

/** Which of a run's sites to list, in site id order. */
export interface SitePage {
  /** Only sites whose id sorts after this one (the previous page's last). */
  after?: string;
  /** At most this many. */
  limit?: number;
}

export interface RejectionRow {
  round: number;
  siteId: string;
  kind: 'rejected' | 'failed';
  code?: string;
  reason: string;
}

export interface MetricRow {
  round: number;
  scope: 'global' | 'federated' | 'site';
  siteId?: string;
  name: string;
  value: number | null;
}

/** Builds a `RunUpsert` from the engine's report. */
export function runFromReport(report: RunReport): RunUpsert {
  return {
    runId: report.runId,
    status: report.status,
    config: report.config,
    startedAt: report.startedAt,
    updatedAt: report.updatedAt,
    backend: report.backend,
    architecture: report.model.architecture,
    roundsPlanned: typeof report.config.rounds === 'number' ? report.config.rounds : undefined,
    final: report.final ? { accuracy: report.final.accuracy, loss: report.final.loss } : undefined,
    aborted: report.aborted,
  };
}

const orUndef = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * The coordinator's run state in SQLite (better-sqlite3): runs, rounds, accepted updates, rejections,
 * metrics and sites. WAL mode, schema migrations versioned by `PRAGMA user_version`, prepared statements,
 * and one transaction per round so a crash never leaves half a round recorded.
 *
 * Checkpoints (checkpoint-store.ts) are the source of truth for resuming; this database is the queryable
 * history. After a resume from round R, call `deleteRoundsAfter(runId, R)` so both agree.
 */
export class RunDatabase {
  readonly db: Database.Database;
  private readonly stmt;
  /**
   * Round records, each one transaction, written `roundSitesPerTurn` sites per turn of the event loop when large
   * (turn-spread-writes.ts); every read, later write and `close` completes them first.
   */
  private readonly roundWrites: TurnSpreadWrites;
  /** Site joins and leaves queued by `queueSite`, written one transaction per tick (write-batch.ts). */
  private readonly siteWrites: WriteBatch<{ runId: string; site: SiteUpsert & { at: string } }>;

  constructor(
    readonly path: string,
    options: RunDatabaseOptions = {},
  ) {
    if (path !== ':memory:') ensureDirectory(dirname(path), 'database directory');
    this.db = openSqlite(path, { readonly: options.readonly ?? false, wal: true });
    if (!options.readonly) {
      this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    }
    this.db.pragma('foreign_keys = ON');
    if (!options.readonly) this.migrate();
    const v = this.schemaVersion;
    if (v !== MIGRATIONS.length) {
      this.db.close();
      throw new FedtuneError('config', `${path}: database schema version ${v}, this coordinator needs ${MIGRATIONS.length}${v > MIGRATIONS.length ? ' (written by a newer fedtune)' : ''}`);
    }
    const db = this.db;
    this.stmt = {
      upsertRun: db.prepare(`
        INSERT INTO runs (run_id, status, config, backend, architecture, rounds_planned, final_accuracy, final_loss, aborted, started_at, updated_at)
        VALUES (@runId, @status, @config, @backend, @architecture, @roundsPlanned, @finalAccuracy, @finalLoss, @aborted, @startedAt, @updatedAt)
        ON CONFLICT (run_id) DO UPDATE SET
          status = excluded.status, config = excluded.config,
          backend = coalesce(excluded.backend, runs.backend), architecture = coalesce(excluded.architecture, runs.architecture),
          rounds_planned = coalesce(excluded.rounds_planned, runs.rounds_planned),
          final_accuracy = coalesce(excluded.final_accuracy, runs.final_accuracy), final_loss = coalesce(excluded.final_loss, runs.final_loss),
          aborted = excluded.aborted, updated_at = excluded.updated_at`),
      getRun: db.prepare(`SELECT * FROM runs WHERE run_id = ?`),
      listRuns: db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, run_id`),
      deleteRound: db.prepare(`DELETE FROM rounds WHERE run_id = ? AND round = ?`),
      deleteRoundsAfter: db.prepare(`DELETE FROM rounds WHERE run_id = ? AND round > ?`),
      insertRound: db.prepare(`
        INSERT INTO rounds (run_id, round, attempts, duration_ms, selected, accepted, rejected, failed, bytes_down, bytes_up, global_accuracy, global_loss, model_dir, record, completed_at)
        VALUES (@runId, @round, @attempts, @durationMs, @selected, @accepted, @rejected, @failed, @bytesDown, @bytesUp, @globalAccuracy, @globalLoss, @modelDir, @record, @completedAt)`),
      insertUpdate: db.prepare(`
        INSERT OR IGNORE INTO updates (run_id, round, site_id, num_examples, loss, accuracy, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      insertRejection: db.prepare(`INSERT INTO rejections (run_id, round, site_id, kind, code, reason) VALUES (?, ?, ?, ?, ?, ?)`),
      insertMetric: db.prepare(`INSERT OR REPLACE INTO metrics (run_id, round, scope, site_id, name, value) VALUES (?, ?, ?, ?, ?, ?)`),
      refreshRunProgress: db.prepare(`
        UPDATE runs SET
          rounds_completed = (SELECT count(*) FROM rounds WHERE run_id = @runId),
          final_accuracy = (SELECT global_accuracy FROM rounds WHERE run_id = @runId ORDER BY round DESC LIMIT 1),
          final_loss = (SELECT global_loss FROM rounds WHERE run_id = @runId ORDER BY round DESC LIMIT 1),
          updated_at = @at
        WHERE run_id = @runId`),
      getRounds: db.prepare(`SELECT record FROM rounds WHERE run_id = ? ORDER BY round`),
      lastRound: db.prepare(`SELECT max(round) AS round FROM rounds WHERE run_id = ?`),
      getRejections: db.prepare(`SELECT round, site_id, kind, code, reason FROM rejections WHERE run_id = ? ORDER BY round, id`),
      rejectionCounts: db.prepare(`SELECT code, count(*) AS n FROM rejections WHERE run_id = ? AND kind = 'rejected' GROUP BY code ORDER BY code`),
      getMetrics: db.prepare(`SELECT round, scope, site_id, name, value FROM metrics WHERE run_id = ? ORDER BY round, scope, site_id, name`),
      upsertSite: db.prepare(`
        INSERT INTO sites (run_id, site_id, status, backend, runtime, num_examples, joined_at, last_seen, left_reason)
        VALUES (@runId, @siteId, @status, @backend, @runtime, @numExamples, CASE WHEN @status = 'connected' THEN @at END, @at, @reason)
        ON CONFLICT (run_id, site_id) DO UPDATE SET
          status = excluded.status,
          backend = coalesce(excluded.backend, sites.backend), runtime = coalesce(excluded.runtime, sites.runtime),
          num_examples = coalesce(excluded.num_examples, sites.num_examples),
          joined_at = CASE WHEN excluded.status = 'connected' AND sites.status <> 'connected' THEN excluded.last_seen ELSE sites.joined_at END,
          last_seen = excluded.last_seen,
          left_reason = CASE WHEN excluded.status = 'connected' THEN NULL ELSE excluded.left_reason END`),
      heartbeat: db.prepare(`UPDATE sites SET last_seen = ? WHERE run_id = ? AND site_id = ?`),
      listSites: db.prepare(`SELECT * FROM sites WHERE run_id = ? AND site_id > ? ORDER BY site_id LIMIT ?`),
      disconnectAll: db.prepare(`UPDATE sites SET status = 'disconnected', left_reason = ?, last_seen = ? WHERE run_id = ? AND status = 'connected'`),
    };
    this.roundWrites = new TurnSpreadWrites(this.db, options.roundSitesPerTurn ?? ROUND_SITES_PER_TURN, (err) => options.onWriteError?.(err, 'a round record'));
    this.siteWrites = new WriteBatch(
      (items) =>
        this.db.transaction(() => {
          for (const { runId, site } of items) this.upsertSiteNow(runId, site);
        })(),
      512,
      (err) => options.onWriteError?.(err, 'site joins/leaves'),
    );
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Applies pending migrations, each in its own transaction. Idempotent. Returns how many ran. */
  migrate(): number {
    let ran = 0;
    for (;;) {
      const v = this.schemaVersion;
      if (v >= MIGRATIONS.length) return ran;
      this.db.transaction(() => {
        // Re-check inside the transaction: another process may have migrated meanwhile.
        if (this.schemaVersion !== v) return;
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
        ran++;
      }).immediate();
    }
  }

  upsertRun(run: RunUpsert): void {
    this.roundWrites.finish();
    this.stmt.upsertRun.run({
      runId: run.runId,
      status: run.status,
      config: JSON.stringify(run.config),
      backend: run.backend ?? null,
      architecture: run.architecture ?? null,
      roundsPlanned: run.roundsPlanned ?? null,
      finalAccuracy: run.final ? num(run.final.accuracy) : null,
      finalLoss: run.final ? num(run.final.loss) : null,
      aborted: run.aborted ?? null,
      startedAt: run.startedAt,
      updatedAt: run.updatedAt ?? new Date().toISOString(),
    });
  }

  getRun(runId: string): RunRow | undefined {
    this.roundWrites.finish();
    const row = this.stmt.getRun.get(runId) as RawRun | undefined;
    return row && toRunRow(row);
  }

  listRuns(): RunRow[] {
    this.roundWrites.finish();
    return (this.stmt.listRuns.all() as RawRun[]).map(toRunRow);
  }

  /**
   * Records a completed round in one transaction: the round, its accepted updates, rejections and
   * failures, its metrics, and the run's progress. Recording the same round again replaces it (so a
   * round replayed after a resume is never counted twice). The run must exist (`upsertRun` first).
   */
  recordRound(runId: string, record: RoundRecord, completedAt = new Date().toISOString()): void {
    this.flushQueued();
    if (!this.stmt.getRun.get(runId)) throw new FedtuneError('not_found', `run ${runId} is not in the database (call upsertRun first)`);
    const r = record.round;
    const steps: Array<() => void> = [];
    steps.push(() => {
      this.stmt.deleteRound.run(runId, r);
      this.stmt.insertRound.run({
        runId,
        round: r,
        attempts: record.attempts,
        durationMs: record.durationMs,
        selected: record.selected.length,
        accepted: record.accepted.length,
        rejected: record.rejected.length + (record.rejectedNotListed ?? 0),
        failed: record.failed.length,
        bytesDown: record.bytesDown,
        bytesUp: record.bytesUp,
        globalAccuracy: num(record.global.accuracy),
        globalLoss: num(record.global.loss),
        modelDir: record.modelDir,
        record: encodeState(record).json,
        completedAt,
      });
    });
    const metric = (scope: MetricRow['scope'], siteId: string, name: string, value: number) => this.stmt.insertMetric.run(runId, r, scope, siteId, name, num(value));
    // One step per site (a few rows each): a record of many sites is written over several turns (turn-spread-writes.ts).
    for (const a of record.accepted) {
      steps.push(() => {
        // A site may appear twice only if the engine misbehaves; keep the first (primary key).
        this.stmt.insertUpdate.run(runId, r, a.siteId, a.numExamples, num(a.loss), num(a.accuracy), num(a.durationMs));
        metric('site', a.siteId, 'train_loss', a.loss);
        metric('site', a.siteId, 'train_accuracy', a.accuracy);
      });
    }
    for (const x of record.rejected) steps.push(() => this.stmt.insertRejection.run(runId, r, x.siteId, 'rejected', x.code, x.reason));
    for (const f of record.failed) steps.push(() => this.stmt.insertRejection.run(runId, r, f.siteId, 'failed', null, f.reason));
    for (const s of record.federated?.sites ?? []) {
      steps.push(() => {
        metric('site', s.siteId, 'eval_accuracy', s.accuracy);
        metric('site', s.siteId, 'eval_loss', s.loss);
      });
    }
    steps.push(() => {
      metric('global', '', 'accuracy', record.global.accuracy);
      metric('global', '', 'loss', record.global.loss);
      for (const [name, value] of Object.entries(record.global.probes ?? {})) metric('global', '', `probe.${name}`, value);
      if (record.federated) metric('federated', '', 'accuracy', record.federated.accuracy);
      this.stmt.refreshRunProgress.run({ runId, at: completedAt });
    });
    this.roundWrites.write(steps);
  }

  /** The run's round records, in round order, exactly as recorded. */
  getRounds(runId: string): RoundRecord[] {
    this.roundWrites.finish();
    return (this.stmt.getRounds.all(runId) as Array<{ record: string }>).map((row) => decodeState(row.record, []) as RoundRecord);
  }

  /** The last recorded round (0 when none). */
  lastRound(runId: string): number {
    this.roundWrites.finish();
    return ((this.stmt.lastRound.get(runId) as { round: number | null }).round ?? 0) as number;
  }

  /** Removes rounds after `round` (with their updates, rejections and metrics), e.g. when resuming from an older checkpoint. */
  deleteRoundsAfter(runId: string, round: number): number {
    this.roundWrites.finish();
    return this.db.transaction(() => {
      const n = this.stmt.deleteRoundsAfter.run(runId, round).changes;
      this.stmt.refreshRunProgress.run({ runId, at: new Date().toISOString() });
      return n;
    })();
  }

  getRejections(runId: string): RejectionRow[] {
    this.roundWrites.finish();
    return (this.stmt.getRejections.all(runId) as Array<{ round: number; site_id: string; kind: 'rejected' | 'failed'; code: string | null; reason: string }>).map((r) => ({
      round: r.round,
      siteId: r.site_id,
      kind: r.kind,
      code: orUndef(r.code),
      reason: r.reason,
    }));
  }

  /** Rejected updates of a run counted by validation code. */
  rejectionCounts(runId: string): Record<string, number> {
    this.roundWrites.finish();
    return Object.fromEntries((this.stmt.rejectionCounts.all(runId) as Array<{ code: string; n: number }>).map((r) => [r.code, r.n]));
  }

  getMetrics(runId: string): MetricRow[] {
    this.roundWrites.finish();
    return (this.stmt.getMetrics.all(runId) as Array<{ round: number; scope: MetricRow['scope']; site_id: string; name: string; value: number | null }>).map((m) => ({
      round: m.round,
      scope: m.scope,
      ...(m.site_id ? { siteId: m.site_id } : {}),
      name: m.name,
      value: m.value,
    }));
  }

  /** Records a site joining, leaving or changing (status, backend, runtime, examples), at once (after what is queued). */
  upsertSite(runId: string, site: SiteUpsert): void {
    this.flushQueued();
    this.upsertSiteNow(runId, site);
  }

  /**
   * Queues a site's join or leave (timestamped now): written with the others of the same tick in one
   * transaction, so a burst of events does not block the event loop on one fsync each. Every read, round
   * record and `close` writes the queue first; a crash loses at most the rows of the current tick.
   */
  queueSite(runId: string, site: SiteUpsert): void {
    this.siteWrites.add({ runId, site: { ...site, at: site.at ?? new Date().toISOString() } });
  }

  /** Writes the queued site rows and the round records still being written, now. */
  flushQueued(): void {
    this.roundWrites.finish();
    this.siteWrites.flush();
  }

  private upsertSiteNow(runId: string, site: SiteUpsert): void {
    this.stmt.upsertSite.run({
      runId,
      siteId: site.siteId,
      status: site.status,
      backend: site.backend ?? null,
      runtime: site.runtime ?? null,
      numExamples: site.numExamples ?? null,
      at: site.at ?? new Date().toISOString(),
      reason: site.reason ?? null,
    });
  }

  /** Updates `last_seen` of many sites in one transaction (call it on a timer, not per message). */
  heartbeat(runId: string, siteIds: Iterable<string>, at = new Date().toISOString()): void {
    this.flushQueued();
    this.db.transaction(() => {
      for (const id of siteIds) this.stmt.heartbeat.run(at, runId, id);
    })();
  }

  /** Marks every connected site of a run disconnected (at shutdown, or at start-up after a crash). */
  disconnectAllSites(runId: string, reason: string, at = new Date().toISOString()): number {
    this.flushQueued();
    return this.stmt.disconnectAll.run(reason, at, runId).changes;
  }

  /** A run's sites by id: those after `page.after` (all by default), at most `page.limit` (all by default). */
  listSites(runId: string, page: SitePage = {}): SiteRow[] {
    this.flushQueued();
    // SQLite's LIMIT -1 is no limit; site ids are ASCII, so SQLite's byte order is JavaScript's string order.
    return (this.stmt.listSites.all(runId, page.after ?? '', page.limit ?? -1) as RawSite[]).map((s) => ({
      siteId: s.site_id,
      status: s.status,
      backend: orUndef(s.backend),
      runtime: orUndef(s.runtime),
      numExamples: orUndef(s.num_examples),
      joinedAt: orUndef(s.joined_at),
      lastSeen: s.last_seen,
      leftReason: orUndef(s.left_reason),
    }));
  }

  /** Writes the queued site rows, then closes. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.flushQueued();
    } finally {
      this.db.close();
    }
  }
}

interface RawRun {
  run_id: string;
  status: RunReport['status'];
  config: string;
  backend: string | null;
  architecture: string | null;
  rounds_planned: number | null;
  rounds_completed: number;
  final_accuracy: number | null;
  final_loss: number | null;
  aborted: string | null;
  started_at: string;
  updated_at: string;
}

interface RawSite {
  site_id: string;
  status: SiteStatus;
  backend: string | null;
  runtime: string | null;
  num_examples: number | null;
  joined_at: string | null;
  last_seen: string;
  left_reason: string | null;
}

function toRunRow(r: RawRun): RunRow {
  return {
    runId: r.run_id,
    status: r.status,
    config: JSON.parse(r.config) as Record<string, unknown>,
    backend: orUndef(r.backend),
    architecture: orUndef(r.architecture),
    roundsPlanned: orUndef(r.rounds_planned),
    roundsCompleted: r.rounds_completed,
    final: r.final_accuracy !== null || r.final_loss !== null ? { accuracy: r.final_accuracy ?? NaN, loss: r.final_loss ?? NaN } : undefined,
    aborted: orUndef(r.aborted),
    startedAt: r.started_at,
    updatedAt: r.updated_at,
  };
}
