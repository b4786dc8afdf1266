import type { TextRobustnessEvaluator } from '../engine/text-robustness-evaluator.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import type { Server } from 'socket.io';
import { FedtuneError, getStrategy, type Dataset, type MemoryNetwork, type ModelTextSection, type RunReport, type ServerTransport } from '@fedtune/shared';
import { makeDirectories, writeFileAtomic } from '@fedtune/shared/node';
import type { EngineEvent, RoundEngineOptions } from '../engine/round-engine.ts';
import { RunConfig, type RunConfigInput } from '../engine/run-config.ts';
import { deepMerge, runConfigDefaults, unknownRunConfigFields } from '../config/run-config-file.ts';
import { refuseInactiveRunConfig } from '../config/inactive-run-config.ts';
import { buildApp, LiveEvents, type CoordinatorApp } from '../http/build-app.ts';
import type { EvaluationProbe } from '../model/tf-global-model.ts';
import { RunDatabase } from '../persistence/run-database.ts';
import { createCoordinatorMetrics, recordEngineEvent } from '../metrics/coordinator-metrics.ts';
import { siteAuthorizer, type SiteAuthorizerOptions } from '../access/site-authorizer.ts';
import { CoordinatorIdentity } from '../access/coordinator-identity.ts';
import type { RateLimit } from '../access/rate-limiter.ts';
import { AdminTokenStore } from '../access/admin-token-store.ts';
import { adminGuard, isLoopbackHost } from '../access/admin-guard.ts';
import { DEFAULT_HOST, type HttpTimeouts } from '../http/http-defaults.ts';
import type { ConnectionLimitsInput } from '../engine/connection-limits.ts';
import type { CreateOutcome, RunControl, RunLauncher, StartOutcome } from '../http/run-control.ts';
import { createFileLogger, logEngineEvent, type FileLogger } from '../http/structured-log.ts';
import { RunStore } from './run-store.ts';
import type { ServedModelVersion } from '../engine/model-versions.ts';
import { RunSwitchTransport } from './run-switch-transport.ts';
import { startRun, type RunSession } from './start-run.ts';
import { ensureDirectory } from '../persistence/ensure-directory.ts';

/** Options of the long-lived part of a coordinator: what outlives its runs. */
export interface CoordinatorServerOptions {
  /** Root directory for runs; each run writes `<runsDir>/<runId>/`. */
  runsDir: string;
  /**
   * The coordinator's own held-out set; a function: read when a run starts (a cluster follower never reads it:
   * docs/cluster.md). Optional when every run brings its own (RunStartOptions.holdout).
   */
  holdout?: Dataset | (() => Dataset);
  /**
   * Which built-in held-out set `holdout` is (saved-holdout.ts: `digits-holdout-scanned`, `digits-holdout-clean`),
   * recorded in every saved model's metadata so `fedtune evaluate --data digits-holdout` evaluates on the same;
   * absent for a holdout of the user's own (and for a run that brings its own holdout).
   */
  holdoutName?: string;
  architecture: string;
  backend: string;
  /** 'socket': fastify + socket.io on `host:port`; a MemoryNetwork: the in-memory transport. */
  transport: 'socket' | MemoryNetwork;
  /** Largest socket.io message in bytes (see `maxMessageBytesFor`). */
  maxMessageBytes: number;
  /** Loads a fresh starting model for each run created and started over HTTP; without it the API cannot start runs. */
  loadModel?: () => Promise<tf.LayersModel>;
  port?: number;
  host?: string;
  onEvent?: (event: EngineEvent) => void;
  logger?: boolean;
  probes?: EvaluationProbe[];
  reportExtras?: { simulation?: Record<string, unknown> };
  /** Text robustness of the final model (text tasks; text-robustness-evaluator.ts). */
  textRobustness?: TextRobustnessEvaluator;
  /** A text model's vocabulary (the model directory's vocab.json: readModelText), sent to the sites with the topology. */
  text?: ModelTextSection;
  checkpoints?: boolean;
  /** Record runs, rounds and sites in `<runsDir>/fedtune.db` (default true for the socket transport). */
  database?: boolean;
  onWarning?: (message: string) => void;
  access?: Omit<SiteAuthorizerOptions, 'addressOf'>;
  authorize?: RoundEngineOptions['authorize'];
  /** Where an authorized hello joins (set by a cluster node: cluster/site-placement.ts). */
  placeSite?: RoundEngineOptions['placeSite'];
  /** Hello deadline, refusal limits and heartbeat timeout of site connections (defaults: engine/connection-limits.ts). */
  connectionLimits?: ConnectionLimitsInput;
  tls?: { cert: string | Buffer; key: string | Buffer };
  apiRateLimit?: RateLimit | false;
  /**
   * Where the admin token of the control plane is kept (default: the site token database, else
   * `<runsDir>/fedtune.db`, opened when first needed).
   */
  adminTokens?: AdminTokenStore;
  /**
   * Whether mutating routes and site listings need the admin token. Default: when not bound to loopback,
   * or when site tokens are required.
   */
  requireAdminToken?: boolean;
  /** HTTP server timeouts (default DEFAULT_HTTP_TIMEOUTS). */
  httpTimeouts?: Partial<HttpTimeouts>;
  logFile?: string;
  /** Where each run's global model is evaluated: a worker thread (default) or the main thread. */
  evaluation?: 'worker' | 'in-process';
  /** Fields bound to every log line (startCoordinator binds its run id). */
  logBindings?: Record<string, unknown>;
  /** Where GET /api/v1/models/:version/weights finds a version (default: the current run's; a cluster node: cluster-model-versions.ts). */
  modelVersions?: (version: number) => ServedModelVersion | undefined | Promise<ServedModelVersion | undefined>;
  /** Wraps the socket.io transport before runs attach to it (a cluster node's ClusterTransport: cluster/start-cluster-node.ts). */
  wrapTransport?: (inner: ServerTransport, io: Server) => ServerTransport;
}

/** A coordinator's HTTP API, socket.io transport, metrics, live events and database, driving one run at a time. */
export interface CoordinatorServer {
  /** Base URL when serving over HTTP (after `listen`). */
  url?: string;
  app?: CoordinatorApp;
  transport: RunSwitchTransport;
  /** The coordinator's identity (its runs directory's identity.json): signs every run's terms. */
  identity: CoordinatorIdentity;
  /** The run started last (it may have ended). */
  readonly current: RunSession | undefined;
  /** Starts a run on this server's transport; sites already connected and those that connect later join it. */
  startRun(options: Parameters<typeof startRun>[1]): RunSession;
  /** Creates a run: validates the config and writes `<runsDir>/<id>/config.json` (status 'created'). */
  createRun(input: unknown): CreateOutcome;
  /** Starts a created run with a fresh model from `loadModel`. */
  startCreatedRun(runId: string): Promise<StartOutcome>;
  listen(): Promise<string | undefined>;
  /** What is bound and who may use it, for the banner (after `listen`). */
  exposure(): Exposure | undefined;
  close(): Promise<void>;
}

/** The address the server listens on and the access rules in force there. */
export interface Exposure {
  host: string;
  port: number;
  /** Only this machine can reach it (127.0.0.0/8, ::1). */
  loopback: boolean;
  siteTokensRequired: boolean;
  adminTokenRequired: boolean;
  /** An admin token exists (when one is required and none does, the control plane refuses everyone). */
  adminTokenExists: boolean;
  /** The database holding the admin token. */
  adminTokenDb: string;
}

/** Socket.io message limit for a model: twice its float32 weights plus 1 MB, at least 16 MB. */
export function maxMessageBytesFor(model: tf.LayersModel): number {
  const modelBytes = model.weights.reduce((n, w) => n + 4 * w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  return Math.max(16 * 1024 * 1024, modelBytes * 2 + 1024 * 1024);
}

/** Parses a run configuration, turning schema errors into one clear FedtuneError('config') naming the fields. */
export function parseRunConfig(input: RunConfigInput): RunConfig {
  const result = RunConfig.safeParse(input);
  if (!result.success) {
    const why = result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new FedtuneError('config', `invalid run configuration: ${why}`, { cause: result.error });
  }
  return result.data;
}

/** A fresh run id: `run-YYYYMMDD-HHMMSS-xxxxxx`. */
export function generateRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

const isActive = (run: RunSession | undefined) => run !== undefined && run.engine.report.status !== 'complete' && run.engine.report.status !== 'aborted';

/** Builds the long-lived part of a coordinator (does not listen: call `listen`). */
export function createCoordinatorServer(options: CoordinatorServerOptions): CoordinatorServer {
  if (options.access && options.authorize) throw new FedtuneError('config', 'give either access (site tokens) or authorize, not both');
  if (options.tls && options.transport !== 'socket') throw new FedtuneError('config', 'tls needs the socket transport');
  ensureDirectory(options.runsDir, 'runs directory');
  const identity = CoordinatorIdentity.loadOrCreate(options.runsDir);
  const store = new RunStore(options.runsDir);
  const database =
    (options.database ?? options.transport === 'socket')
      ? // synchronous 'normal': a commit is not fsync'd on the event loop (in WAL mode the database stays consistent
        // through a power loss and may lose its last transactions); what a resume needs is in the fsync'd checkpoints,
        // and resuming records again every round of the checkpoint the database lacks (start-run.ts).
        new RunDatabase(join(options.runsDir, 'fedtune.db'), { synchronous: 'normal', onWriteError: (err, what) => options.onWarning?.(`could not record ${what} in the run database: ${String((err as Error)?.message ?? err).slice(0, 500)}`) })
      : undefined;
  const metrics = createCoordinatorMetrics();
  const fileLog: FileLogger | undefined = options.logFile ? createFileLogger(options.logFile, options.logBindings) : undefined;
  const runLogger = (runId: string) => (fileLog && (options.logBindings?.runId === undefined ? fileLog.logger.child({ runId }) : fileLog.logger));
  const liveEvents = options.transport === 'socket' ? new LiveEvents() : undefined;
  let current: RunSession | undefined;
  let starting = false;

  const launcher: RunLauncher | undefined = options.loadModel && {
    create: (input) => server.createRun(input),
    start: (runId) => server.startCreatedRun(runId),
  };
  const control: RunControl = {
    get runId() {
      return current?.runId;
    },
    sites: () => current?.sites() ?? [],
    stop: () => current?.requestStop() ?? { status: 'finished', runStatus: 'none' },
    runs: launcher,
  };

  const host = options.host ?? DEFAULT_HOST;
  const siteTokensRequired = () => (options.access ? (options.access.requireTokens ?? options.access.store.size > 0) : false);
  const adminRequired = () => options.requireAdminToken ?? (!isLoopbackHost(host) || siteTokensRequired());
  const adminDb = options.adminTokens?.path ?? (options.access && options.access.store.path !== ':memory:' ? options.access.store.path : join(options.runsDir, 'fedtune.db'));
  let adminStore = options.adminTokens;
  const openAdminStore = () => (adminStore ??= new AdminTokenStore(adminDb));

  let app: CoordinatorApp | undefined;
  if (options.transport === 'socket') {
    app = buildApp({
      runsDir: options.runsDir,
      maxMessageBytes: options.maxMessageBytes,
      connectionLimits: options.connectionLimits,
      events: liveEvents,
      metrics: () => metrics.registry.render(),
      logger: options.logger ?? false,
      loggerInstance: fileLog?.logger,
      control,
      database,
      siteTokens: options.access?.store,
      https: options.tls,
      apiRateLimit: options.apiRateLimit,
      admin: adminGuard({ store: openAdminStore, required: adminRequired, createCommand: `fedtune admin-token --db ${adminDb}` }),
      timeouts: options.httpTimeouts,
      terms: {
        terms: () => current?.engine.termsGate.signed,
        mayRead: (siteId, token) => !siteTokensRequired() || (siteId !== undefined && options.access!.store.verify(siteId, token).ok),
      },
      modelWeights: {
        version: (version) => (options.modelVersions ? options.modelVersions(version) : current?.engine.modelVersions.get(version)),
        mayRead: (siteId, token) => !siteTokensRequired() || (siteId !== undefined && options.access!.store.verify(siteId, token).ok),
      },
      live: () => {
        const engine = current?.engine;
        return (
          engine && {
            runId: current!.runId,
            phase: engine.report.status,
            round: engine.currentRound,
            sites: engine.sites.all().map((s) => ({ siteId: s.siteId, backend: s.backend, runtime: s.runtime, lastSeen: new Date(s.lastSeen).toISOString() })),
          }
        );
      },
      liveSummary: () => {
        const engine = current?.engine;
        return engine && { runId: current!.runId, phase: engine.report.status };
      },
    });
  }
  const transport = new RunSwitchTransport(app ? (options.wrapTransport?.(app.transport, app.io) ?? app.transport) : (options.transport as MemoryNetwork).serverTransport());
  const authorize = options.access
    ? siteAuthorizer({ ...options.access, addressOf: (link) => link.remoteAddress })
    : options.authorize;

  const onEvent = (runId: string, event: EngineEvent) => {
    const log = runLogger(runId);
    if (log) logEngineEvent(log, event);
    recordEngineEvent(metrics, event);
    // The dashboard shows verdicts ('result'); the hash of each received update is for the audit log only.
    if (event.type !== 'update-received') liveEvents?.publish(event);
    if (database) {
      // The database is a record, not the source of truth (report.json and checkpoints are): never let it stop a run.
      try {
        recordInDatabase(database, runId, event);
      } catch (err) {
        options.onWarning?.(`could not record ${event.type} in the run database: ${(err as Error).message}`);
      }
    }
    options.onEvent?.(event);
  };

  const server: CoordinatorServer = {
    app,
    transport,
    identity,
    get current() {
      return current;
    },
    startRun(runOptions) {
      if (isActive(current) || starting) throw new FedtuneError('config', `run ${current?.runId ?? '(starting)'} is still active`);
      if (runOptions.config.modelDelivery === 'http' && !app) throw new FedtuneError('config', 'model delivery over HTTP needs the coordinator\'s HTTP server: use the socket transport (simulate --transport socket) or --model-delivery socket');
      const holdoutSource = runOptions.holdout ?? options.holdout;
      const holdout = typeof holdoutSource === 'function' ? holdoutSource() : holdoutSource;
      if (!holdout) throw new FedtuneError('config', 'no holdout: give the coordinator server one or the run its own');
      const session = startRun(
        {
          runsDir: options.runsDir,
          transport,
          holdout,
          ...holdoutNameOf(runOptions.holdout ? runOptions.holdoutName : options.holdoutName),
          architecture: options.architecture,
          backend: options.backend,
          maxMessageBytes: options.maxMessageBytes,
          probes: options.probes,
          reportExtras: options.reportExtras,
          textRobustness: options.textRobustness,
          ...(options.text ? { text: options.text } : {}),
          checkpoints: options.checkpoints,
          database,
          authorize,
          ...(options.placeSite ? { placeSite: options.placeSite } : {}),
          connectionLimits: options.connectionLimits,
          identity,
          onWarning: options.onWarning,
          evaluation: options.evaluation,
          onEvent,
          onStopRequested: (runId, round) => runLogger(runId)?.info({ event: 'stop_requested', round }, 'stop requested'),
        },
        runOptions,
      );
      current = session;
      // On a server that starts runs over HTTP, connections made after a run ended wait for the next one.
      // Otherwise (startCoordinator) the ended run keeps answering them, as it always has.
      if (options.loadModel) {
        void session.done.finally(() => {
          if (current === session) transport.detach();
        });
      }
      return session;
    },
    createRun(input) {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FedtuneError('config', 'invalid run configuration: (config): expected an object');
      const given = input as Record<string, unknown>;
      // Refused here, not when the run starts: fields the schema does not know, strategies that do not exist.
      const unknown = unknownRunConfigFields(given);
      if (unknown.length) throw new FedtuneError('config', `invalid run configuration: ${unknown.slice(0, 5).join('; ')}`);
      // Fields left out take the schema's defaults field by field, as a --config file's do (a body may give train.epochs alone).
      const config = parseRunConfig(deepMerge(runConfigDefaults(), given, { runId: given.runId ?? generateRunId() }) as RunConfigInput);
      checkStrategy(config);
      // A field the body sets where it can have no effect: refused as a --config file's would be (one line, 400).
      refuseInactiveRunConfig(config, [{ values: given }]);
      const runDir = store.newRunDir(config.runId);
      if (existsSync(join(runDir, 'config.json')) || existsSync(join(runDir, 'report.json'))) return { status: 'exists', runId: config.runId };
      makeDirectories(runDir);
      writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(config, null, 2));
      return { status: 'created', runId: config.runId };
    },
    async startCreatedRun(runId) {
      if (!options.loadModel) throw new FedtuneError('config', 'this coordinator does not start runs over HTTP (fedtune coordinator --serve-only does)');
      if (isActive(current) || starting) return { status: 'active', activeRunId: current?.runId ?? '(starting)' };
      const runDir = store.runDir(runId);
      const configPath = join(runDir, 'config.json');
      if (!existsSync(configPath)) throw new FedtuneError('not_found', `run ${runId} was not created (POST /api/runs)`);
      if (existsSync(join(runDir, 'report.json'))) return { status: 'already_started', runStatus: store.read(runId).status };
      const config = parseRunConfig(JSON.parse(readFileSync(configPath, 'utf8')) as RunConfigInput);
      starting = true;
      let session: RunSession;
      try {
        const model = await options.loadModel();
        starting = false;
        session = server.startRun({ config, model });
      } finally {
        starting = false;
      }
      // The run shows as 'waiting' at once (the engine writes report.json again as it goes).
      writeFileAtomic(join(runDir, 'report.json'), JSON.stringify(session.engine.report, null, 2));
      return { status: 'started', runId };
    },
    async listen() {
      if (!app) return undefined;
      const address = await app.app.listen({ port: options.port ?? 0, host });
      server.url = address.replace('[::1]', 'localhost');
      return server.url;
    },
    exposure() {
      const bound = app?.app.server.address();
      if (!bound || typeof bound === 'string') return undefined;
      return {
        host: bound.address,
        port: bound.port,
        loopback: isLoopbackHost(bound.address),
        siteTokensRequired: siteTokensRequired(),
        adminTokenRequired: adminRequired(),
        adminTokenExists: openAdminStore().info() !== undefined,
        adminTokenDb: adminDb,
      };
    },
    async close() {
      await current?.close();
      if (app) await app.app.close();
      else await transport.close();
      database?.close();
      if (!options.adminTokens) adminStore?.close();
      fileLog?.close();
    },
  };
  return server;
}

/** The run's strategy exists and accepts its options (what the round engine would find out at start). */
function checkStrategy(config: RunConfig): void {
  const strategy = getStrategy(config.strategy);
  try {
    strategy.initialState(config.strategyOptions);
  } catch (err) {
    if (err instanceof FedtuneError) throw err;
    throw new FedtuneError('config', `invalid run configuration: strategyOptions for ${strategy.name}: ${(err as Error).message}`, { cause: err });
  }
}

function recordInDatabase(db: RunDatabase, runId: string, event: EngineEvent): void {
  if (event.type === 'site-joined') {
    // Joins and leaves are batched (one transaction per tick: write-batch.ts); a round's record writes them first.
    db.queueSite(runId, { siteId: event.siteId, status: 'connected', backend: event.backend, runtime: event.runtime, numExamples: event.numExamples });
  } else if (event.type === 'site-left') {
    db.queueSite(runId, { siteId: event.siteId, status: 'disconnected', reason: event.reason });
  } else if (event.type === 'round-end') {
    db.recordRound(runId, event.record);
  }
}

/** The built-in held-out set's name for a run's saved models, when its holdout is one. */
function holdoutNameOf(name: string | undefined): { holdoutName?: string } {
  return name ? { holdoutName: name } : {};
}
