import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '@fedtune/shared/node';
import { FedtuneError, newAttackRowClaims, warmUpAttackOptions, type HelperAttackRows, type RobustnessOptions, type RobustnessReport, type TemperatureStats, type WeightArrays } from '@fedtune/shared';
import type { GlobalMetrics } from '../engine/global-model.ts';
import type { EvaluationReply, EvaluationRequest, EvaluationWorkerInit, HelperRowsMessage } from './evaluation-protocol.ts';

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };
type RequestBody = EvaluationRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * Starts the evaluation worker: from compiled JavaScript its .js sibling, from TypeScript sources (tsx,
 * vitest) its .ts entry through tsx's loader.
 */
function spawnWorker(init: EvaluationWorkerInit): Worker {
  return spawnModuleWorker(import.meta.url, 'evaluation-worker', { workerData: init });
}

/**
 * The coordinator's evaluation worker thread (evaluation-worker.ts): the holdout evaluation, temperature fit
 * and robustness evaluation of the global model run there, on their own tfjs engine, so the event loop keeps
 * serving sites and health checks meanwhile, and a robustness evaluation can overlap the next round.
 * The worker never holds the process open (unref) and is terminated by `close`.
 */
export class EvaluationThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;
  /** Resolves true once the worker is ready, false if it could not start (use in-process evaluation then). */
  readonly ready: Promise<boolean>;
  /** Resolves with the exit code once the worker thread has ended. */
  readonly exited: Promise<number>;

  constructor(init: EvaluationWorkerInit) {
    this.worker = spawnWorker(init);
    this.worker.unref();
    let markReady!: (ok: boolean) => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.on('message', (reply: EvaluationReply) => {
      if (reply.kind === 'ready') return markReady(true);
      if (reply.kind === 'init-failed') {
        this.fail(new FedtuneError('internal', `evaluation worker: ${reply.message}`));
        return markReady(false);
      }
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new FedtuneError(reply.code as never, reply.message));
    });
    this.worker.on('error', (err) => {
      this.fail(err);
      markReady(false);
    });
    this.worker.on('exit', (code) => {
      this.fail(new FedtuneError('internal', `evaluation worker exited (code ${code})`));
      markReady(false);
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private request<T>(body: RequestBody): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...body, id });
    });
  }

  evaluate(weights: WeightArrays): Promise<GlobalMetrics> {
    return this.request({ kind: 'evaluate', weights });
  }

  /** A robustness evaluation; with `sharing`, a helper (attackRows) computes some of its PGD rows, delivered by sendHelperRows. */
  evaluateRobustness(weights: WeightArrays, options: RobustnessOptions, sharing?: { claims: Int32Array; helperId: number }): Promise<RobustnessReport> {
    return this.request({ kind: 'robustness', weights, options, ...(sharing ? { sharing } : {}) });
  }

  /** The helper's side of a shared robustness evaluation (shared-attack-rows.ts). */
  attackRows(weights: WeightArrays, options: RobustnessOptions, claims: Int32Array): Promise<HelperAttackRows> {
    return this.request({ kind: 'attack-rows', weights, options, claims });
  }

  /** Runs a tiny PGD evaluation (a handful of examples and steps) so the attack's code is compiled before real rows. */
  warmAttacks(weights: WeightArrays, options: RobustnessOptions): Promise<HelperAttackRows> {
    return this.request({ kind: 'attack-rows', weights, options: warmUpAttackOptions(options), claims: newAttackRowClaims() });
  }

  /** Hands a shared evaluation its helper's rows (null: the helper failed, the evaluation computes them). */
  sendHelperRows(helperId: number, rows: HelperAttackRows | null): void {
    if (this.failure) return;
    const message: HelperRowsMessage = { kind: 'helper-rows', helperId, rows };
    this.worker.postMessage(message);
  }

  fitTemperature(weights: WeightArrays): Promise<{ temperature: number; fittedOn: number }> {
    return this.request({ kind: 'temperature', weights });
  }

  /** The holdout's temperature-scaling sums of the model with these weights at `betas`. */
  calibrationStats(weights: WeightArrays, betas: readonly number[]): Promise<{ betas: number[]; count: number; stats: TemperatureStats[] }> {
    return this.request({ kind: 'calibration-stats', weights, betas: [...betas] });
  }

  /** Makes the robustness evaluation's noisy and corrupted holdout copies ahead of it; resolves with how many it made. */
  prepareRobustness(options: RobustnessOptions): Promise<number> {
    return this.request({ kind: 'prepare-robustness', options });
  }

  /** The worker's live tfjs tensor count. */
  tensors(): Promise<number> {
    return this.request({ kind: 'tensors' });
  }

  /** Whether `close` was called: a worker closed before it was ready did not fail to start (`ready` is false all the same). */
  get closed(): boolean {
    return this.closing;
  }
  private closing = false;

  /** Terminates the worker (pending requests are rejected) and resolves once it has exited. */
  async close(): Promise<void> {
    this.closing = true;
    this.fail(new FedtuneError('internal', 'evaluation worker closed'));
    await this.worker.terminate();
  }
}
