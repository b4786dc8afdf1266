import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, MemoryNetwork, type Dataset, type RunReport, type ServerTransport } from '@fedtune/shared';
import { writeFileAtomic } from '@fedtune/shared/node';
import { RoundEngine, type EngineEvent } from '../engine/round-engine.ts';
import { RunConfig, type RunConfigInput } from '../engine/run-config.ts';
import { buildApp, LiveEvents, type CoordinatorApp } from '../http/build-app.ts';
import { TfGlobalModel, type EvaluationProbe } from '../model/tf-global-model.ts';
import { CheckpointStore } from '../persistence/checkpoint-store.ts';
import { writeReportHtml } from '../report/report-html.ts';
import { RunDatabase, runFromReport } from '../persistence/run-database.ts';
import { createCoordinatorMetrics, recordEngineEvent } from '../metrics/coordinator-metrics.ts';
import type { EngineCheckpoint } from '../engine/round-engine.ts';
import type { RoundEngineOptions } from '../engine/round-engine.ts';
import { siteAuthorizer, type SiteAuthorizerOptions } from '../access/site-authorizer.ts';
import type { RateLimit } from '../access/rate-limiter.ts';
import type { RunControl, StopOutcome } from '../http/run-control.ts';
import { createFileLogger, logEngineEvent, type FileLogger } from '../http/structured-log.ts';

export interface StartCoordinatorOptions {
  /** Root directory for runs; this run writes `<runsDir>/<runId>/`. */
  runsDir: string;
  config: RunConfigInput;
  /** The starting global model (the coordinator takes ownership and disposes it). */
  model: tf.LayersModel;
  architecture: string;
  /** The coordinator's own held-out set. */
  holdout: Dataset;
  backend: string;
  /** 'socket': fastify + socket.io on `host:port`; a MemoryNetwork: the in-memory transport. */
  transport: 'socket' | MemoryNetwork;
  port?: number;
  host?: string;
  onEvent?: (event: EngineEvent) => void;
  logger?: boolean;
  /** Extra datasets evaluated with the global model every round (reported under `global.probes`). */
  probes?: EvaluationProbe[];
  /** Extra top-level sections for report.json (e.g. `simulation`). */
  reportExtras?: { simulation?: Record<string, unknown> };
  /** Continue the run `config.runId` from its latest good checkpoint (after a crash or a stop). */
  resume?: boolean;
  /** Write a checkpoint after every round (default true). */
  checkpoints?: boolean;
  /** Record runs, rounds and sites in `<runsDir>/fedtune.db` (SQLite; default true for the socket transport). */
  database?: boolean;
  /** Called with warnings worth a person's attention (e.g. a corrupted checkpoint skipped at resume). */
  onWarning?: (message: string) => void;
  /** Who may join: site tokens from a registry (coordinator/src/access). The caller keeps the store open and closes it. */
  access?: Omit<SiteAuthorizerOptions, 'addressOf'>;
  /** A custom join decision instead of `access`. Default: everyone may join. */
  authorize?: RoundEngineOptions['authorize'];
  /** Serve HTTPS and WSS with this PEM certificate chain and key (socket transport). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Token bucket per address on `/api/*` (default 50/s, bursts of 100); false: none. */
  apiRateLimit?: RateLimit | false;
  /** Write structured JSON logs (pino) of HTTP requests and engine events to this file. */
  logFile?: string;
}

export interface RunningCoordinator {
  runId: string;
  runDir: string;
  /** Base URL when serving over HTTP. */
  url?: string;
  engine: RoundEngine;
  app?: CoordinatorApp;
  /** Resolves with the final report once the run is complete (or aborted). */
  done: Promise<RunReport>;
  /** Stops the run after the current round (what `POST /api/runs/:id/stop` does). */
  requestStop(): StopOutcome;
  close(): Promise<void>;
}

/** Parses a run configuration, turning schema errors into one clear FedtuneError('config'). */
export function parseRunConfig(input: RunConfigInput): RunConfig {
  const result = RunConfig.safeParse(input);
  if (!result.success) {
    const why = result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new FedtuneError('config', `invalid run configuration: ${why}`, { cause: result.error });
  }
  return result.data;
}

/**
 * Starts a coordinator for one run: the global model, the round engine, and (for the socket transport)
 * the HTTP API with socket.io. The run starts as soon as `minSites` sites have joined.
 */
export async function startCoordinator(options: StartCoordinatorOptions): Promise<RunningCoordinator> {
  const config = parseRunConfig(options.config);
  if (options.access && options.authorize) throw new FedtuneError('config', 'give either access (site tokens) or authorize, not both');
  if (options.tls && options.transport !== 'socket') throw new FedtuneError('config', 'tls needs the socket transport');
  const runDir = join(options.runsDir, config.runId);
  mkdirSync(runDir, { recursive: true });
  const checkpoints = options.checkpoints === false ? undefined : new CheckpointStore(runDir);
  let resume: EngineCheckpoint | undefined;
  if (options.resume) {
    if (!checkpoints) throw new FedtuneError('config', 'resume needs checkpoints');
    const latest = checkpoints.latest();
    for (const w of latest.warnings) options.onWarning?.(`checkpoint of round ${w.round} skipped (${w.path}): ${w.message}`);
    if (!latest.checkpoint) throw new FedtuneError('not_found', `run ${config.runId} has no usable checkpoint in ${checkpoints.dir}`);
    const c = latest.checkpoint;
    checkpoints.discardAfter(c.round);
    resume = {
      round: c.round,
      weights: c.weights.arrays,
      strategyState: c.strategyState,
      report: c.report,
      privacy: c.accountant as EngineCheckpoint['privacy'],
    };
  }
  const database = (options.database ?? options.transport === 'socket') ? new RunDatabase(join(options.runsDir, 'fedtune.db')) : undefined;
  if (resume) database?.deleteRoundsAfter(config.runId, resume.round);
  const metrics = createCoordinatorMetrics();
  const global = new TfGlobalModel(options.model, options.holdout, runDir, options.architecture, { runId: config.runId, architecture: options.architecture }, options.probes);
  const modelBytes = global.manifest.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const maxMessageBytes = Math.max(16 * 1024 * 1024, modelBytes * 2 + 1024 * 1024);

  let app: CoordinatorApp | undefined;
  let transport: ServerTransport;
  let engine: RoundEngine | undefined;
  const fileLog: FileLogger | undefined = options.logFile ? createFileLogger(options.logFile, { runId: config.runId }) : undefined;
  // A stop asked for while a round collects results takes effect when that round ends.
  let stopAfterRound = false;
  const control: RunControl = {
    runId: config.runId,
    sites: () =>
      (engine?.sites.all() ?? []).map((s) => ({
        siteId: s.siteId,
        status: 'connected' as const,
        activity: s.status,
        backend: s.backend,
        runtime: s.runtime,
        numExamples: s.numExamples,
        joinedAt: new Date(s.joinedAt).toISOString(),
        lastSeen: new Date(s.lastSeen).toISOString(),
      })),
    stop: () => {
      const status = engine!.report.status;
      if (status === 'complete' || status === 'aborted') return { status: 'finished', runStatus: status };
      fileLog?.logger.info({ event: 'stop_requested', round: engine!.currentRound }, 'stop requested');
      if (engine!.currentRound === undefined) engine!.stop();
      else stopAfterRound = true;
      return { status: 'stopping' };
    },
  };
  // Engine events for the dashboard: published here, so the engine knows nothing of HTTP.
  const liveEvents = options.transport === 'socket' ? new LiveEvents() : undefined;
  if (options.transport === 'socket') {
    app = buildApp({
      runsDir: options.runsDir,
      maxMessageBytes,
      events: liveEvents,
      metrics: () => metrics.registry.render(),
      logger: options.logger ?? false,
      loggerInstance: fileLog?.logger,
      control,
      database,
      https: options.tls,
      apiRateLimit: options.apiRateLimit,
      live: () =>
        engine && {
          runId: config.runId,
          phase: engine.report.status,
          round: engine.currentRound,
          sites: engine.sites.all().map((s) => ({ siteId: s.siteId, backend: s.backend, runtime: s.runtime, lastSeen: new Date(s.lastSeen).toISOString() })),
        },
    });
    transport = app.transport;
  } else {
    transport = options.transport.serverTransport();
  }

  engine = new RoundEngine({
    transport,
    model: global,
    config: { ...config, maxUpdateBytes: Math.min(config.maxUpdateBytes, maxMessageBytes) },
    backend: options.backend,
    onEvent: (event) => {
      if (event.type === 'round-end' && stopAfterRound) engine!.stop();
      if (fileLog) logEngineEvent(fileLog.logger, event);
      recordEngineEvent(metrics, event);
      liveEvents?.publish(event);
      if (database) {
        // The database is a record, not the source of truth (report.json and checkpoints are): never let it stop a run.
        try {
          recordInDatabase(database, config.runId, event);
        } catch (err) {
          options.onWarning?.(`could not record ${event.type} in the run database: ${(err as Error).message}`);
        }
      }
      options.onEvent?.(event);
    },
    reportExtras: options.reportExtras,
    authorize: options.access
      ? siteAuthorizer({ ...options.access, addressOf: (link) => app?.io.sockets.sockets.get(link.id)?.handshake.address })
      : options.authorize,
    resume,
    checkpoint: checkpoints
      ? async (state) => {
          await checkpoints.write({
            runId: config.runId,
            round: state.round,
            weights: { manifest: global.manifest, arrays: state.weights },
            strategyState: state.strategyState,
            rng: {},
            accountant: state.privacy,
            report: state.report,
          });
        }
      : undefined,
    persist: (report) => {
      writeFileAtomic(join(runDir, 'report.json'), JSON.stringify(report, null, 2));
      if (report.rounds.length > 0) writeReportHtml(runDir, report);
      database?.upsertRun(runFromReport(report));
    },
  });

  database?.upsertRun(runFromReport(engine.report));
  let url: string | undefined;
  if (app) {
    const address = await app.app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
    url = address.replace('[::1]', 'localhost');
  }
  const done = engine.run();
  return {
    runId: config.runId,
    runDir,
    url,
    engine,
    app,
    done,
    requestStop: () => control.stop(),
    async close() {
      engine!.stop();
      await done.catch(() => undefined);
      if (app) await app.app.close();
      else await transport.close();
      database?.close();
      fileLog?.close();
      global.dispose();
    },
  };
}

function recordInDatabase(db: RunDatabase, runId: string, event: EngineEvent): void {
  if (event.type === 'site-joined') {
    db.upsertSite(runId, { siteId: event.siteId, status: 'connected', backend: event.backend, runtime: event.runtime, numExamples: event.numExamples });
  } else if (event.type === 'site-left') {
    db.upsertSite(runId, { siteId: event.siteId, status: 'disconnected', reason: event.reason });
  } else if (event.type === 'round-end') {
    db.recordRound(runId, event.record);
  }
}
