import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, MemoryNetwork, type Dataset, type RunReport, type ServerTransport } from '@fedtune/shared';
import { writeFileAtomic } from '@fedtune/shared/node';
import { RoundEngine, type EngineEvent } from '../engine/round-engine.ts';
import { RunConfig, type RunConfigInput } from '../engine/run-config.ts';
import { buildApp, LiveEvents, type CoordinatorApp } from '../http/build-app.ts';
import { TfGlobalModel, type EvaluationProbe } from '../model/tf-global-model.ts';

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
  const runDir = join(options.runsDir, config.runId);
  mkdirSync(runDir, { recursive: true });
  const global = new TfGlobalModel(options.model, options.holdout, runDir, options.architecture, { runId: config.runId, architecture: options.architecture }, options.probes);
  const modelBytes = global.manifest.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const maxMessageBytes = Math.max(16 * 1024 * 1024, modelBytes * 2 + 1024 * 1024);

  let app: CoordinatorApp | undefined;
  let transport: ServerTransport;
  let engine: RoundEngine | undefined;
  // Engine events for the dashboard: published here, so the engine knows nothing of HTTP.
  const liveEvents = options.transport === 'socket' ? new LiveEvents() : undefined;
  if (options.transport === 'socket') {
    app = buildApp({
      runsDir: options.runsDir,
      maxMessageBytes,
      events: liveEvents,
      logger: options.logger ?? false,
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
    onEvent: liveEvents
      ? (event) => {
          liveEvents.publish(event);
          options.onEvent?.(event);
        }
      : options.onEvent,
    reportExtras: options.reportExtras,
    persist: (report) => writeFileAtomic(join(runDir, 'report.json'), JSON.stringify(report, null, 2)),
  });

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
    async close() {
      engine!.stop();
      await done.catch(() => undefined);
      if (app) await app.app.close();
      else await transport.close();
      global.dispose();
    },
  };
}
