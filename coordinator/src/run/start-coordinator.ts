import type * as tf from '@tensorflow/tfjs';
import type { Dataset, MemoryNetwork, RunReport } from '@fedtune/shared';
import type { EngineEvent, RoundEngine, RoundEngineOptions } from '../engine/round-engine.ts';
import type { RunConfigInput } from '../engine/run-config.ts';
import type { CoordinatorApp } from '../http/build-app.ts';
import type { EvaluationProbe } from '../model/tf-global-model.ts';
import type { SiteAuthorizerOptions } from '../access/site-authorizer.ts';
import type { RateLimit } from '../access/rate-limiter.ts';
import type { StopOutcome } from '../http/run-control.ts';
import { createCoordinatorServer, maxMessageBytesFor, parseRunConfig } from './coordinator-server.ts';
import type { RunSession } from './start-run.ts';

export { createCoordinatorServer, generateRunId, maxMessageBytesFor, parseRunConfig, type CoordinatorServer, type CoordinatorServerOptions } from './coordinator-server.ts';
export { startRun, type RunServices, type RunSession, type RunStartOptions } from './start-run.ts';
export { RunSwitchTransport } from './run-switch-transport.ts';

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

/**
 * Starts a coordinator for one run: the global model, the round engine, and (for the socket transport)
 * the HTTP API with socket.io. The run starts as soon as `minSites` sites have joined. Built from the
 * long-lived server part (coordinator-server.ts) and one run on it (start-run.ts).
 */
export async function startCoordinator(options: StartCoordinatorOptions): Promise<RunningCoordinator> {
  const config = parseRunConfig(options.config);
  const server = createCoordinatorServer({
      runsDir: options.runsDir,
      holdout: options.holdout,
      architecture: options.architecture,
      backend: options.backend,
      transport: options.transport,
      maxMessageBytes: maxMessageBytesFor(options.model),
      port: options.port,
      host: options.host,
      onEvent: options.onEvent,
      logger: options.logger,
      probes: options.probes,
      reportExtras: options.reportExtras,
      checkpoints: options.checkpoints,
      database: options.database,
      onWarning: options.onWarning,
      access: options.access,
      authorize: options.authorize,
      tls: options.tls,
      apiRateLimit: options.apiRateLimit,
      logFile: options.logFile,
      logBindings: { runId: config.runId },
    });
  let run: RunSession;
  try {
    run = server.startRun({ config, model: options.model, resume: options.resume });
  } catch (err) {
    await server.close();
    throw err;
  }
  const url = await server.listen();
  return {
    runId: run.runId,
    runDir: run.runDir,
    url,
    engine: run.engine,
    app: server.app,
    done: run.done,
    requestStop: () => run.requestStop(),
    close: () => server.close(),
  };
}

