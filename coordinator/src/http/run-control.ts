import type { RoundRecord } from '@fedtune/shared';
import type { SitePage, SiteRow } from '../persistence/run-database.ts';

/** A site as the API shows it (`GET /api/runs/:id/sites`): its database row, plus live activity. */
export interface SiteView extends SiteRow {
  /** What a joined site last reported in a heartbeat. */
  activity?: 'idle' | 'training' | 'evaluating';
  /** Rounds in a row the joined site was asked and gave no answer (live sites, when > 0; unresponsive-sites.ts). */
  missedRounds?: number;
}

/** What `POST /api/runs/:id/stop` did. */
export type StopOutcome = { status: 'stopping' } | { status: 'finished'; runStatus: string };

/**
 * The run this coordinator drives, as the API may see and steer it. start-coordinator implements it
 * over the round engine, so the HTTP layer knows nothing of the engine.
 */
export interface RunControl {
  /** The run driven now (or last); undefined before the first run of a coordinator started with no run. */
  readonly runId?: string;
  /** The sites joined right now. */
  sites(): SiteView[];
  /** Asks the run to stop after the current round; 'finished' if it already completed or aborted. */
  stop(): StopOutcome;
  /** Creating and starting runs over HTTP (`fedtune coordinator --serve-only`); absent: those routes answer 409. */
  runs?: RunLauncher;
}

/** What `POST /api/runs` did. */
export type CreateOutcome = { status: 'created'; runId: string } | { status: 'exists'; runId: string };

/** What `POST /api/runs/:id/start` did. */
export type StartOutcome =
  | { status: 'started'; runId: string }
  | { status: 'active'; activeRunId: string }
  | { status: 'already_started'; runStatus: string };

/** Creates runs (config.json, status 'created') and starts them on the coordinator's transport, one at a time. */
export interface RunLauncher {
  /** Validates the configuration (a FedtuneError('config') naming the fields if invalid); runId optional. */
  create(input: unknown): CreateOutcome;
  start(runId: string): Promise<StartOutcome>;
}

/** Where the sites of runs this coordinator does not drive come from (the SQLite run database). */
export interface SiteHistory {
  listSites(runId: string, page?: SitePage): SiteRow[];
}

/**
 * A run's sites: the live ones (when this coordinator drives the run) and the database's rows for the
 * others. For the driven run a recorded 'connected' site that is not live has gone (its row is stale).
 */
export function mergeSites(live: SiteView[] | undefined, recorded: SiteRow[]): SiteView[] {
  const seen = new Set(live?.map((s) => s.siteId));
  const past = recorded
    .filter((s) => !seen.has(s.siteId))
    .map((s): SiteView => ({ ...s, status: live ? 'disconnected' : s.status }));
  // No two sites compared share an id (live ones are unique, recorded ones with a live id are dropped, the database
  // holds one row per site): "not before" is "after".
  // Stryker disable next-line EqualityOperator: equivalent: with distinct ids < and <= order them alike
  return [...(live ?? []), ...past].sort((a, b) => (a.siteId < b.siteId ? -1 : 1));
}

/** A round record reduced to what the rounds listing shows: counts instead of site lists, no per-site data. */
export function summarizeRound(r: RoundRecord) {
  const rejectedByCode: Record<string, number> = {};
  for (const x of r.rejected) rejectedByCode[x.code] = (rejectedByCode[x.code] ?? 0) + 1;
  const rb = r.robustness;
  return {
    round: r.round,
    durationMs: r.durationMs,
    attempts: r.attempts,
    selected: r.selected.length,
    accepted: r.accepted.length,
    rejected: r.rejected.length + (r.rejectedNotListed ?? 0),
    failed: r.failed.length,
    cooling: r.cooling?.count ?? 0,
    busy: r.busy?.count ?? 0,
    rejectedByCode,
    bytesDown: r.bytesDown,
    bytesUp: r.bytesUp,
    global: r.global,
    federated: r.federated && { accuracy: r.federated.accuracy, mean: r.federated.mean, p10: r.federated.p10, worstSite: r.federated.worstSite },
    privacy: r.privacy,
    robustness: rb && {
      cleanAccuracy: rb.clean.accuracy,
      corruptionMean: rb.corruptionMean,
      worstCorruption: rb.worstCorruption,
      fgsm: rb.fgsm,
      pgd: rb.pgd.map((p) => ({ eps: p.eps, steps: p.steps, accuracy: p.accuracy })),
      warnings: rb.warnings.length,
    },
    modelDir: r.modelDir,
  };
}
