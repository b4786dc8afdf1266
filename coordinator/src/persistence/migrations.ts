/**
 * The run database's schema, as an append-only list of migrations. Migration i (0-based) brings a database
 * from `PRAGMA user_version` i to i + 1. Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: runs, rounds, the per-round update outcomes, metrics, rejections, sites.
  `
  CREATE TABLE runs (
    run_id           TEXT PRIMARY KEY,
    status           TEXT NOT NULL,              -- RunReport status: waiting, running, complete, aborted
    config           TEXT NOT NULL,              -- the validated RunConfig, JSON
    backend          TEXT,
    architecture     TEXT,
    rounds_planned   INTEGER,
    rounds_completed INTEGER NOT NULL DEFAULT 0,
    final_accuracy   REAL,
    final_loss       REAL,
    aborted          TEXT,
    started_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
  );

  CREATE TABLE rounds (
    run_id          TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    round           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    duration_ms     REAL NOT NULL,
    selected        INTEGER NOT NULL,
    accepted        INTEGER NOT NULL,
    rejected        INTEGER NOT NULL,
    failed          INTEGER NOT NULL,
    bytes_down      INTEGER NOT NULL,
    bytes_up        INTEGER NOT NULL,
    global_accuracy REAL,
    global_loss     REAL,
    model_dir       TEXT NOT NULL,
    record          TEXT NOT NULL,               -- the full RoundRecord, JSON
    completed_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, round)
  );

  -- Accepted updates of a round (the sites' own training metrics).
  CREATE TABLE updates (
    run_id       TEXT NOT NULL,
    round        INTEGER NOT NULL,
    site_id      TEXT NOT NULL,
    num_examples INTEGER NOT NULL,
    loss         REAL,
    accuracy     REAL,
    duration_ms  REAL,
    PRIMARY KEY (run_id, round, site_id),
    FOREIGN KEY (run_id, round) REFERENCES rounds(run_id, round) ON DELETE CASCADE
  );

  -- Refused updates (kind 'rejected', with the validation code) and selected sites that failed ('failed').
  CREATE TABLE rejections (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL,
    round   INTEGER NOT NULL,
    site_id TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('rejected', 'failed')),
    code    TEXT,
    reason  TEXT NOT NULL,
    FOREIGN KEY (run_id, round) REFERENCES rounds(run_id, round) ON DELETE CASCADE
  );
  CREATE INDEX rejections_by_run ON rejections (run_id, round);
  CREATE INDEX rejections_by_code ON rejections (run_id, code);

  -- Scalar metrics per round: scope 'global' (holdout), 'federated' (weighted over sites), 'site' (site_id set).
  CREATE TABLE metrics (
    run_id  TEXT NOT NULL,
    round   INTEGER NOT NULL,
    scope   TEXT NOT NULL,
    site_id TEXT NOT NULL DEFAULT '',
    name    TEXT NOT NULL,
    value   REAL,
    PRIMARY KEY (run_id, round, scope, site_id, name),
    FOREIGN KEY (run_id, round) REFERENCES rounds(run_id, round) ON DELETE CASCADE
  );

  CREATE TABLE sites (
    run_id       TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    site_id      TEXT NOT NULL,
    status       TEXT NOT NULL,                  -- connected, disconnected
    backend      TEXT,
    runtime      TEXT,
    num_examples INTEGER,
    joined_at    TEXT,
    last_seen    TEXT NOT NULL,
    left_reason  TEXT,
    PRIMARY KEY (run_id, site_id)
  );
  `,
];
