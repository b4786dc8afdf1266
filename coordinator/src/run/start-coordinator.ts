import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, type Dataset, type RunReport } from '@fedtune/shared';
import type { RoundEngine } from '../engine/round-engine.ts';
import type { RunConfig, RunConfigInput } from '../engine/run-config.ts';
import type { CoordinatorApp } from '../http/build-app.ts';
import type { StopOutcome } from '../http/run-control.ts';
import { createCoordinatorServer, maxMessageBytesFor, parseRunConfig, type CoordinatorServer, type CoordinatorServerOptions, type Exposure } from './coordinator-server.ts';
import type { RunSession } from './start-run.ts';

export { createCoordinatorServer, generateRunId, maxMessageBytesFor, parseRunConfig, type CoordinatorServer, type CoordinatorServerOptions, type Exposure } from './coordinator-server.ts';
export { startRun, type RunServices, type RunSession, type RunStartOptions } from './start-run.ts';
export { RunSwitchTransport } from './run-switch-transport.ts';
export { maxMessageBytesForModelDir, maxMessageBytesForWeights } from '../model/model-dir-message-bytes.ts';

/**
 * One coordinator driving one run: the server options (what outlives a run) plus the run's own:
 * its configuration, starting model and whether to resume it.
 */
export interface StartCoordinatorOptions extends Omit<CoordinatorServerOptions, 'maxMessageBytes' | 'loadModel' | 'logBindings' | 'holdout'> {
  /** The coordinator's held-out set; or give `load`. */
  holdout?: Dataset;
  config: RunConfigInput;
  /** The starting global model (the coordinator takes ownership and disposes it); or give `load`. */
  model?: tf.LayersModel;
  /** Continue the run `config.runId` from its latest good checkpoint (after a crash or a stop). */
  resume?: boolean;
  /**
   * Fast start (docs/performance.md#listening-first): the starting model and the holdout, loaded once the
   * server listens, instead of `model` and `holdout`. Sites that connect meanwhile wait and join the run.
   * If it throws, the server closes and startCoordinator throws that error.
   */
  load?: () => Promise<RunInputs>;
  /** Largest socket.io message (with `load`: maxMessageBytesForModelDir); default maxMessageBytesFor(model). */
  maxMessageBytes?: number;
  /** Called once the server listens (with `load`: before loading). */
  onListening?: (listening: Listening) => void;
}

/** What a run is started with when the coordinator loads it after listening. */
export interface RunInputs {
  model: tf.LayersModel;
  holdout: Dataset;
}

/** The server as it is once listening: its URL, exposure and identity. */
export interface Listening {
  url?: string;
  exposure?: Exposure;
  coordinatorKey: string;
}

export interface RunningCoordinator {
  runId: string;
  runDir: string;
  /** Base URL when serving over HTTP. */
  url?: string;
  engine: RoundEngine;
  app?: CoordinatorApp;
  /** The coordinator identity's public key (hex): what a site's policy pins (SitePolicy.coordinators). */
  coordinatorKey: string;
  /** What is bound and who may use it (socket transport, after listening). */
  exposure(): Exposure | undefined;
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
  const load = options.load;
  if (load ? options.model !== undefined || options.maxMessageBytes === undefined : options.model === undefined || options.holdout === undefined) {
    throw new FedtuneError('config', 'startCoordinator needs either model and holdout, or load and maxMessageBytes');
  }
  const maxMessageBytes = options.maxMessageBytes ?? maxMessageBytesFor(options.model!);
  const server = createCoordinatorServer({
      runsDir: options.runsDir,
      holdout: options.holdout,
      ...(options.holdoutName ? { holdoutName: options.holdoutName } : {}),
      architecture: options.architecture,
      backend: options.backend,
      transport: options.transport,
      maxMessageBytes,
      port: options.port,
      host: options.host,
      onEvent: options.onEvent,
      logger: options.logger,
      probes: options.probes,
      reportExtras: options.reportExtras,
      textRobustness: options.textRobustness,
      text: options.text,
      checkpoints: options.checkpoints,
      database: options.database,
      onWarning: options.onWarning,
      access: options.access,
      authorize: options.authorize,
      ...(options.placeSite ? { placeSite: options.placeSite } : {}),
      connectionLimits: options.connectionLimits,
      tls: options.tls,
      apiRateLimit: options.apiRateLimit,
      adminTokens: options.adminTokens,
      requireAdminToken: options.requireAdminToken,
      httpTimeouts: options.httpTimeouts,
      logFile: options.logFile,
      evaluation: options.evaluation,
      logBindings: { runId: config.runId },
    });
  let run: RunSession;
  let url: string | undefined;
  const listening = () => options.onListening?.({ url, exposure: server.exposure(), coordinatorKey: server.identity.publicKey });
  try {
    if (load) {
      url = await server.listen();
      listening();
      run = await startLoadedRun(server, config, load, maxMessageBytes, options.resume, options.holdoutName);
    } else {
      run = server.startRun({ config, model: options.model!, resume: options.resume });
      url = await server.listen();
      listening();
    }
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    runId: run.runId,
    runDir: run.runDir,
    url,
    engine: run.engine,
    app: server.app,
    coordinatorKey: server.identity.publicKey,
    done: run.done,
    requestStop: () => run.requestStop(),
    exposure: () => server.exposure(),
    close: () => server.close(),
  };
}


/** Loads the run's model and holdout (after listening) and starts the run with them (`holdoutName`: which built-in held-out set `load` brings). */
async function startLoadedRun(server: CoordinatorServer, config: RunConfig, load: () => Promise<RunInputs>, maxMessageBytes: number, resume?: boolean, holdoutName?: string): Promise<RunSession> {
  const { model, holdout } = await load();
  if (maxMessageBytesFor(model) > maxMessageBytes) {
    model.dispose();
    throw new FedtuneError('config', `the model loaded has more weights than its model.json's weightsManifest announced (messages of up to ${maxMessageBytes} bytes were allowed)`);
  }
  return server.startRun({ config, model, holdout, resume, ...(holdoutName ? { holdoutName } : {}) });
}
