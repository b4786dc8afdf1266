import type { RemotePartials } from '../engine/remote-partials.ts';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FedtuneError, type Dataset, type ModelTextSection, type RunReport, type ServerTransport } from '@fedtune/shared';
import { makeDirectories } from '@fedtune/shared/node';
import { RoundEngine, type EngineCheckpoint, type EngineEvent, type RoundEngineOptions } from '../engine/round-engine.ts';
import type { RunConfig } from '../engine/run-config.ts';
import { TfGlobalModel, type EvaluationProbe } from '../model/tf-global-model.ts';
import { checkAdversarialTraining } from './adversarial-training-check.ts';
import { checkTrainableLayers } from './trainable-layers-check.ts';
import { DelegatedEvaluationModel, type EvaluateElsewhere } from '../engine/delegated-evaluation-model.ts';
import { CheckpointStore } from '../persistence/checkpoint-store.ts';
import { removeStaleTempFiles } from '../persistence/write-file-durable.ts';
import { RunStore } from './run-store.ts';
import { holdsRun, refuseTakenRunId } from './taken-run-id.ts';
import { runClassNamesOf } from './run-class-names.ts';
import { AUDIT_FILE, type AuditLog } from '../audit/audit-log.ts';
import { openRunAuditLog, startRunAudit } from '../audit/run-audit.ts';
import { RunDatabase, runFromReport } from '../persistence/run-database.ts';
import { ReportWriter } from '../report/report-writer.ts';
import type { SiteView, StopOutcome } from '../http/run-control.ts';

/** What a run needs from the long-lived coordinator server (coordinator-server.ts). */
export interface RunServices {
  runsDir: string;
  transport: ServerTransport;
  holdout: Dataset;
  /** Which built-in held-out set `holdout` is (CoordinatorServerOptions.holdoutName): saved in each model's metadata. */
  holdoutName?: string;
  architecture: string;
  backend: string;
  /** Largest socket.io message; updates are capped at this too. */
  maxMessageBytes: number;
  probes?: EvaluationProbe[];
  reportExtras?: { simulation?: Record<string, unknown> };
  textRobustness?: RoundEngineOptions['textRobustness'];
  /** A text model's vocabulary, sent to the sites with the topology (readModelText). */
  text?: ModelTextSection;
  /** Write a checkpoint after every round (default true). */
  checkpoints?: boolean;
  database?: RunDatabase;
  authorize?: RoundEngineOptions['authorize'];
  /** Where an authorized hello joins (a coordinator cluster's site placement: cluster/site-placement.ts). */
  placeSite?: RoundEngineOptions['placeSite'];
  connectionLimits?: RoundEngineOptions['connectionLimits'];
  /** Signs every run's terms (the coordinator's identity.json). */
  identity?: RoundEngineOptions['identity'];
  onWarning?: (message: string) => void;
  /** Where the global model is evaluated: a worker thread (default) or this thread (tf-global-model.ts). */
  evaluation?: 'worker' | 'in-process';
  /** Every engine event of the run (metrics, logs, dashboard, database). */
  onEvent(runId: string, event: EngineEvent): void;
  /** Logs that a stop was requested. */
  onStopRequested?(runId: string, round: number | undefined): void;
}

export interface RunStartOptions {
  config: RunConfig;
  /** The starting global model (the run takes ownership and disposes it). */
  model: tf.LayersModel;
  /** Continue `config.runId` from its latest good checkpoint. */
  resume?: boolean;
  /**
   * A cluster node taking over a run whose previous leader started it but wrote no checkpoint yet (it lost its
   * lease in the first round): the run starts again from its first round in the same directory — its audit chain
   * goes on (a run start that says it resumed after round 0), the database forgets rounds it may hold.
   */
  takeOver?: boolean;
  /** Partial aggregates folded by a cluster's followers (cluster/leader-round-partials.ts). */
  remotePartials?: RemotePartials;
  /**
   * False once this process may no longer write the run's files (a cluster node that lost its leader lease: the
   * new leader owns the shared runs directory). Checkpoints and reports are then not written. Default: always.
   */
  mayPersist?: () => boolean | Promise<boolean>;
  /** Told after each round's checkpoint is written (a cluster leader records the round in Redis: a node without the run's files then cannot lead it). */
  onCheckpointed?: (round: number) => void;
  /** The run's held-out set, instead of the server's (a coordinator that loads it after listening: start-coordinator.ts). */
  holdout?: Dataset;
  /** Which built-in held-out set the run's own `holdout` is (saved in each model's metadata); the server's name describes only the server's holdout. */
  holdoutName?: string;
  /**
   * Where the holdout evaluation of each model may be made instead of here (a cluster leader asks its followers:
   * cluster/leader-delegated-evaluation.ts); undefined answers make it here. Not used with evaluation probes.
   */
  evaluateElsewhere?: EvaluateElsewhere;
}

/** One run on a coordinator server: its global model, round engine and checkpoints. */
export interface RunSession {
  runId: string;
  runDir: string;
  engine: RoundEngine;
  /** The run's global model (its evaluation worker: `globalModel.evaluationThread`, terminated when the run ends). */
  globalModel: TfGlobalModel;
  /** Resolves with the final report once the run is complete (or aborted). */
  done: Promise<RunReport>;
  /** The sites joined right now. */
  sites(): SiteView[];
  /** Stops the run after the current round (at once when no round collects results). */
  requestStop(): StopOutcome;
  /** Stops the run at once, waits for it to end and frees the model. */
  close(): Promise<void>;
  /** This node no longer leads the run (cluster): its audit log writes nothing more, pending entries dropped (AuditLog.abandon). */
  fence(): void;
}

/** Whether the run's report on disk says it completed. */
function completedOnDisk(store: RunStore, runId: string): boolean {
  try {
    return store.read(runId).status === 'complete';
  } catch {
    return false;
  }
}

/** Removes `*.tmp-*` files left by a killed writer in the run directory and its subdirectories (two levels). */
function removeTempFilesUnder(runDir: string): void {
  removeStaleTempFiles(runDir, 0);
  for (const sub of ['checkpoints', 'models']) {
    const dir = join(runDir, sub);
    removeStaleTempFiles(dir, 0);
    if (sub === 'models' && existsSync(dir)) for (const round of readdirSync(dir)) removeStaleTempFiles(join(dir, round), 0);
  }
}

/** Makes the run database agree with the checkpoint a run resumes from. */
function reconcileDatabase(database: RunDatabase, runId: string, resume: EngineCheckpoint): void {
  database.upsertRun(runFromReport(resume.report));
  database.deleteRoundsAfter(runId, resume.round);
  const recorded = new Set(database.getRounds(runId).map((r) => r.round));
  for (const record of resume.report.rounds) if (!recorded.has(record.round)) database.recordRound(runId, record);
}

/**
 * What every model the run saves records in its model.json's metadata besides its round (and calibration): the
 * run, the architecture, and what an outside evaluation needs to evaluate it as the run did — the built-in held-out
 * set it was evaluated on and the task's headline ε (`fedtune evaluate` reads both).
 */
function savedModelMetadata(runId: string, services: RunServices, config: RunConfig): Record<string, unknown> {
  const headlineEps = config.robustness.headlineEps;
  return {
    runId,
    architecture: services.architecture,
    ...(services.holdoutName ? { holdout: services.holdoutName } : {}),
    ...(headlineEps !== undefined ? { headlineEps } : {}),
  };
}

function checkpointToResume(checkpoints: CheckpointStore, runId: string, onWarning?: (m: string) => void): EngineCheckpoint {
  const latest = checkpoints.latest();
  for (const w of latest.warnings) onWarning?.(`checkpoint of round ${w.round} skipped (${w.path}): ${w.message}`);
  if (!latest.checkpoint) throw new FedtuneError('not_found', `run ${runId} has no usable checkpoint in ${checkpoints.dir}`);
  const c = latest.checkpoint;
  checkpoints.discardAfter(c.round);
  return { round: c.round, weights: c.weights.arrays, strategyState: c.strategyState, report: c.report, privacy: c.accountant as EngineCheckpoint['privacy'], averaging: c.averaging as EngineCheckpoint['averaging'], stragglers: c.stragglers };
}

/**
 * Builds the run's global model and round engine on the server's transport and starts it: the run begins
 * as soon as `minSites` sites have joined. Throws (and disposes the model) if the engine refuses the config.
 */
export function startRun(services: RunServices, { config: given, model, resume: resumeRun, takeOver = false, remotePartials, mayPersist = () => true, evaluateElsewhere, onCheckpointed }: RunStartOptions): RunSession {
  const runId = given.runId;
  let config = given;
  // One rule for every entry point (CLI, API, POST /api/runs): no run id that names a file of the runs
  // directory (the database and its -wal/-shm files, hidden names).
  let global: TfGlobalModel | undefined;
  let auditLog: AuditLog | undefined;
  try {
    const classNames = runClassNamesOf(given.classNames, model);
    if (classNames) config = { ...given, classNames };
    checkAdversarialTraining(config.train, model);
    checkTrainableLayers(config.train, model);
    const store = new RunStore(services.runsDir);
    const runDir = store.newRunDir(runId);
    // A new run never writes over another's files (its report, checkpoints and audit chain would mix with them).
    const takenOver = !resumeRun && takeOver && holdsRun(runDir);
    if (!resumeRun && !takenOver) refuseTakenRunId(services.runsDir, runId);
    makeDirectories(runDir);
    // The run's hash-chained audit log (audit.jsonl): a resumed run continues its chain, a broken one stops it here,
    // before anything of the run (its checkpoints) is touched.
    auditLog = openRunAuditLog(runDir, services.onWarning);
    const checkpoints = services.checkpoints === false ? undefined : new CheckpointStore(runDir);
    let resume: EngineCheckpoint | undefined;
    if (resumeRun) {
      if (!checkpoints) throw new FedtuneError('config', 'resume needs checkpoints');
      resume = checkpointToResume(checkpoints, runId, services.onWarning);
      // Nothing to resume: the run has all its rounds and ended complete (its report stays as it is; more rounds
      // train it longer). A run whose last round is checkpointed but whose end was not written (its coordinator
      // died during the final evaluation) resumes to finish it.
      if (resume.round >= config.rounds && completedOnDisk(store, runId)) {
        throw new FedtuneError('config', `run ${runId} already has all of its ${config.rounds} rounds (checkpoint of round ${resume.round}): nothing to resume; to train it longer, raise its rounds above ${resume.round} (fedtune coordinator --resume ${runId} --rounds N)`);
      }
    }
    const { database } = services;
    if (resume) {
      // The checkpoint is the truth: temporary files of a killed writer go, and the database is made to
      // agree with the checkpoint (rounds after it removed, rounds it holds but the database lost recorded).
      removeTempFilesUnder(runDir);
      if (database) reconcileDatabase(database, runId, resume);
    } else if (takenOver) {
      // No checkpoint: no round is kept, whatever the previous leader wrote or recorded.
      removeTempFilesUnder(runDir);
      database?.deleteRoundsAfter(runId, 0);
    }
    global = new TfGlobalModel(model, services.holdout, runDir, services.architecture, savedModelMetadata(runId, services, config), services.probes, {
      evaluation: services.evaluation,
      onWarning: services.onWarning,
      ...(services.text ? { text: services.text } : {}),
    });
    const model_ = global;
    const audit = startRunAudit(auditLog, { config, manifest: global.manifest, weights: resume?.weights ?? global.initialWeights, resumedAfterRound: resume?.round ?? (takenOver ? 0 : undefined) });
    // report.json/report.html of a round are written off the round's critical path; the final one is awaited.
    const reports = new ReportWriter(runDir);
    // A stop asked for while a round collects results takes effect when that round ends.
    let stopAfterRound = false;
    // Probes (named extra datasets) are evaluated with the holdout here: only a plain holdout evaluation goes elsewhere.
    const engineModel = evaluateElsewhere && (services.probes ?? []).length === 0 ? new DelegatedEvaluationModel(global, evaluateElsewhere) : global;
    const engine: RoundEngine = new RoundEngine({
      transport: services.transport,
      model: engineModel,
      config: { ...config, maxUpdateBytes: Math.min(config.maxUpdateBytes, services.maxMessageBytes) },
      backend: services.backend,
      onEvent: (event) => {
        try {
          audit.recorder.onEvent(event);
        } catch (err) {
          services.onWarning?.(`could not record ${event.type} in the audit log: ${String((err as Error)?.message ?? err).slice(0, 500)}`);
        }
        if (event.type === 'round-end' && stopAfterRound) engine.stop();
        services.onEvent(runId, event);
      },
      reportExtras: services.reportExtras,
      textRobustness: services.textRobustness,
      authorize: services.authorize,
      ...(services.placeSite ? { placeSite: services.placeSite } : {}),
      connectionLimits: services.connectionLimits,
      identity: services.identity,
      resume,
      ...(remotePartials ? { remotePartials } : {}),
      roundSaved: (record, weights) => audit.recorder.roundSaved(record, weights),
      checkpoint: checkpoints
        ? async (state) => {
            if (!(await mayPersist())) return;
            await checkpoints.write({
              runId,
              round: state.round,
              weights: { manifest: model_.manifest, arrays: state.weights },
              strategyState: state.strategyState,
              rng: {},
              accountant: state.privacy,
              ...(state.averaging ? { averaging: state.averaging } : {}),
              ...(state.stragglers ? { stragglers: state.stragglers } : {}),
              report: state.report,
            });
            onCheckpointed?.(state.round);
          }
        : undefined,
      persist: async (report) => {
        if (!(await mayPersist())) return;
        if (report.status === 'complete' || report.status === 'aborted') audit.recorder.complete(report);
        // The report names the chain's head as it is now: durable once flushAsync resolves (its fsync off the event loop).
        const head = audit.log.head();
        await audit.log.flushAsync();
        report.audit = head;
        database?.upsertRun(runFromReport(report));
        if (report.status === 'complete' || report.status === 'aborted') await reports.writeNow(report);
        else reports.schedule(report);
      },
    });
    database?.upsertRun(runFromReport(engine.report));
    // The evaluation worker ends with the run (the final report is written by then).
    const done = engine.run().finally(() => {
      audit.log.close();
      return model_.closeEvaluation();
    });
    let disposed = false;
    return {
      runId,
      runDir,
      engine,
      globalModel: model_,
      done,
      sites: () =>
        engine.sites.all().map((s) => {
          const missed = engine.unresponsive.misses(s.siteId);
          return {
            siteId: s.siteId,
            status: 'connected' as const,
            activity: s.status,
            backend: s.backend,
            runtime: s.runtime,
            numExamples: s.numExamples,
            joinedAt: new Date(s.joinedAt).toISOString(),
            lastSeen: new Date(s.lastSeen).toISOString(),
            ...(missed > 0 ? { missedRounds: missed } : {}),
          };
        }),
      requestStop: () => {
        const status = engine.report.status;
        if (status === 'complete' || status === 'aborted') return { status: 'finished', runStatus: status };
        services.onStopRequested?.(runId, engine.currentRound);
        if (engine.currentRound === undefined) engine.stop();
        else stopAfterRound = true;
        return { status: 'stopping' };
      },
      fence: () => audit.log.abandon(),
      async close() {
        engine.stop();
        await done.catch(() => undefined);
        if (!disposed) model_.dispose();
        disposed = true;
      },
    };
  } catch (err) {
    auditLog?.close();
    if (global) global.dispose();
    else model.dispose();
    throw err;
  }
}
