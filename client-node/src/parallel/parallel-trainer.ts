import * as tf from '@tensorflow/tfjs';
import {
  FedtuneError,
  SeededRandom,
  epochSyncSteps,
  fitLocal,
  modelTopology,
  parallelFallbackReason,
  readModelWeights,
  setDropoutRate,
  setTrainableLayers,
  writeModelWeights,
  type Dataset,
  type FitLocalOptions,
  type FitMetrics,
  type FitProgress,
  type TrainConfig,
} from '@fedtune/shared';
import type { ParallelTraining } from './parallel-options.ts';
import { forwardMacsPerExample, MIN_SHARD_MACS } from './shard-speedup.ts';
import { SharedBarrier } from './shared-barrier.ts';
import { TALLY_FIELDS, type WorkerTiming } from './worker-messages.ts';
import { WorkerPool, type TrainingThread } from './worker-pool.ts';

/** The tfjs backends the worker threads can run (a native backend already uses every core itself). */
const THREADED_BACKENDS = new Set(['wasm', 'cpu']);

export interface ParallelTrainerOptions extends ParallelTraining {
  /** The site's tfjs backend (`tf.getBackend()` name or package name); every worker selects the same. */
  backend: string;
  /** One line per distinct reason a fit falls back to one thread. */
  onLog?: (line: string) => void;
  /**
   * With `syncEvery` 1, fits whose shards would get fewer forward multiply-accumulates than this train on one
   * thread (shardsTooSlow). Default MIN_SHARD_MACS; 0 always splits (tests of the parallel numbers).
   */
  minShardMacs?: number;
}

export type { WorkerTiming };

/** fitLocal's metrics plus how many threads trained. */
export type ParallelFitMetrics = FitMetrics & { workers: number };

/**
 * Trains a site's model data-parallel on `workers` worker threads (each its own tfjs and wasm instance),
 * with fitLocal's signature and results: the same seeded order, batches split into contiguous shards, and
 * either the example-weighted average gradient applied by every replica each batch (syncEvery 1) or local
 * SGD: each worker takes `syncEvery` whole batches, then the weights are averaged (epochSyncSteps). Configs the threads do not support (parallelFallbackReason)
 * and workers = 1 run fitLocal in this thread. The threads start at the first fit and live until `close`.
 */
export class ParallelTrainer {
  private readonly pool?: WorkerPool;
  private readonly logged = new Set<string>();
  /** The training split the threads hold now (they keep one: a new one replaces it). */
  private shared?: { train: Dataset; dataId: number };
  private sentTopology = '';
  private nextId = 1;
  /** Tensors alive in each worker after the last fit (leak tests). */
  lastWorkerTensors: number[] = [];
  /** Where each worker's time went in the last fit (bench/workers.ts: sync cost per step vs the step). */
  lastTiming: WorkerTiming[] = [];
  /** Forward multiply-accumulates per shard of the last `--sync-every 1` fit (shardsTooSlow). */
  lastShardMacs?: number;

  constructor(readonly options: ParallelTrainerOptions) {
    const threaded = options.workers > 1 && THREADED_BACKENDS.has(backendName(options.backend));
    if (options.workers > 1 && !threaded) this.log(`--workers ${options.workers}: training on one thread: the ${options.backend} backend already uses every core`);
    if (threaded) this.pool = new WorkerPool(options.workers, options.backend);
  }

  /** Worker threads created so far. */
  get threadsCreated(): number {
    return this.pool?.created ?? 0;
  }

  private log(line: string): void {
    if (this.logged.has(line)) return;
    this.logged.add(line);
    this.options.onLog?.(line);
  }

  /** fitLocal's contract (see fit-local.ts), data-parallel where it can be. */
  fit = async (model: tf.LayersModel, train: Dataset, config: TrainConfig, onProgress?: (p: FitProgress) => void, options: FitLocalOptions = {}): Promise<ParallelFitMetrics> => {
    if (!this.pool) return { ...(await fitLocal(model, train, config, onProgress, options)), workers: 1 };
    const reason = options.keepTrainable
      ? 'the caller chose the trainable layers'
      : parallelFallbackReason(config, { layerClassNames: model.layers.map((l) => l.getClassName()), hasValidation: (options.validation?.y.length ?? 0) > 0 });
    const slowShards = reason ? undefined : this.shardsTooSlow(model, config);
    if (reason || slowShards) {
      this.log(`${this.options.workers} worker threads available (--workers), but this fit trains on one: ${reason ?? slowShards}`);
      return { ...(await fitLocal(model, train, config, onProgress, options)), workers: 1 };
    }
    return this.fitParallel(model, train, config, onProgress);
  };

  /**
   * With `--sync-every 1`, why splitting batches does not pay on this model, or undefined: a shard's forward
   * multiply-accumulates (forwardMacsPerExample × batch / workers) under `minShardMacs` (default
   * MIN_SHARD_MACS; 0 always splits). A deterministic estimate, so a run trains the same way every time.
   */
  private shardsTooSlow(model: tf.LayersModel, config: TrainConfig): string | undefined {
    const min = this.options.minShardMacs ?? MIN_SHARD_MACS;
    if (this.options.syncEvery !== 1 || min <= 0) return undefined;
    const shardMacs = (forwardMacsPerExample(model) * config.batchSize) / this.options.workers;
    this.lastShardMacs = shardMacs;
    return shardMacs < min
      ? `a batch split over ${this.options.workers} threads gives each ${(shardMacs / 1e6).toFixed(1)} M multiply-accumulates per step, too little to pay for tfjs's fixed cost per step (from ${(min / 1e6).toFixed(0)} M; --sync-every k > 1 gives each thread whole batches)`
      : undefined;
  }

  private async fitParallel(model: tf.LayersModel, train: Dataset, config: TrainConfig, onProgress?: (p: FitProgress) => void): Promise<ParallelFitMetrics> {
    const total = train.y.length;
    if (total === 0) throw new FedtuneError('data', 'no training examples');
    const n = Math.min(total, config.maxExamples ?? total);
    // fitLocal's order: one seeded shuffle of all examples per epoch, the first n train.
    const rng = new SeededRandom(config.seed);
    const orders = new Int32Array(config.epochs * n);
    for (let e = 0; e < config.epochs; e++) orders.set(rng.shuffle(Array.from({ length: total }, (_, i) => i)).slice(0, n), e * n);
    setTrainableLayers(model, config.trainable);
    if (config.dropout !== undefined) setDropoutRate(model, config.dropout);
    const paramCount = model.trainableWeights.reduce((s, w) => s + w.read().size, 0);
    const workers = this.options.workers;
    const threads = await this.pool!.start();
    this.pool!.hold(true, threads);
    const barrier = new SharedBarrier(workers);
    try {
      const dataId = this.shareData(train, threads);
      const topology = JSON.stringify(modelTopology(model));
      const sendTopology = topology !== this.sentTopology;
      this.sentTopology = '';
      const slots = new SharedArrayBuffer(workers * paramCount * 4);
      const average = new SharedArrayBuffer(paramCount * 4);
      const tallies = new SharedArrayBuffer(workers * TALLY_FIELDS.length * 8);
      const weights = readModelWeights(model).arrays;
      const fitId = this.nextId++;
      const { optimizer, learningRate, batchSize, epochs, trainable, dropout } = config;
      threads.forEach((t, index) =>
        t.post({
          type: 'fit',
          fitId,
          dataId,
          ...(sendTopology ? { topology: JSON.parse(topology) as Record<string, unknown> } : {}),
          weights,
          config: { optimizer, learningRate, batchSize, epochs, trainable, ...(dropout !== undefined ? { dropout } : {}) },
          orders,
          n,
          index,
          workers,
          syncEvery: this.options.syncEvery,
          slots,
          average,
          tallies,
          barrier: barrier.buffer,
        }),
      );
      // The threads synchronize among themselves; this thread only follows their progress reports.
      const plan = epochSyncSteps(n, batchSize, workers, this.options.syncEvery);
      const batches = Math.ceil(n / batchSize);
      let last = { loss: NaN, accuracy: NaN };
      for (let epoch = 0; epoch < epochs; epoch++) {
        let lossSum = 0;
        let correct = 0;
        let seen = 0;
        for (const syncStep of plan) {
          const parts = await Promise.all(threads.map((t) => t.next('step')));
          const stepLoss = parts.reduce((sum, p) => sum + p.lossSum, 0);
          const stepCount = parts.reduce((sum, p) => sum + p.count, 0);
          lossSum += stepLoss;
          correct += parts.reduce((sum, p) => sum + p.correct, 0);
          seen += stepCount;
          onProgress?.({ epoch, epochs, batch: syncStep.batchesDone, batches, loss: stepLoss / stepCount });
        }
        last = { loss: lossSum / seen, accuracy: correct / seen };
        // Like fitLocal, a non-finite epoch loss ends the fit (the threads stop after this epoch too).
        if (!Number.isFinite(last.loss)) break;
      }
      const done = await Promise.all(threads.map((t) => t.next('done')));
      this.sentTopology = topology;
      this.lastWorkerTensors = done.map((d) => d.numTensors);
      this.lastTiming = done.map((d) => d.timing);
      if (!Number.isFinite(last.loss)) throw new FedtuneError('data', `local training diverged (loss ${last.loss})`);
      writeModelWeights(model, done[0].weights!);
      return { loss: last.loss, accuracy: last.accuracy, numExamples: n, workers };
    } catch (err) {
      // A thread that failed mid-fit: wake the others, start afresh at the next fit.
      if (!(err instanceof FedtuneError && err.code === 'data')) {
        barrier.abort();
        // Each thread stops at its next barrier: give their errors a moment to arrive, to report the first cause.
        if (threads.some((t) => t.failed)) await Promise.race([Promise.all(threads.map((t) => t.whenFailed)), new Promise((r) => setTimeout(r, 2000).unref())]);
        const first = threads.find((t) => t.failed && !t.secondary);
        await this.pool!.close();
        this.sentTopology = '';
        this.shared = undefined;
        if (first) throw await first.next('done').catch((e: unknown) => e);
      }
      throw err;
    } finally {
      this.pool!.hold(false, threads);
    }
  }

  /** Copies the training split into shared memory once (the threads read it in place; it never leaves this process). */
  private shareData(train: Dataset, threads: TrainingThread[]): number {
    if (this.shared?.train === train) return this.shared.dataId;
    const dataId = this.nextId++;
    const x = new Float32Array(new SharedArrayBuffer(train.x.length * 4));
    x.set(train.x);
    const y = new Int32Array(new SharedArrayBuffer(train.y.length * 4));
    y.set(train.y);
    for (const t of threads) t.post({ type: 'data', dataId, x, y, featureShape: [...train.featureShape], numClasses: train.numClasses });
    this.shared = { train, dataId };
    return dataId;
  }

  /** Tensors alive in each worker thread now. */
  async workerTensors(): Promise<number[]> {
    if (!this.pool) return [];
    const threads = await this.pool.start();
    for (const t of threads) t.post({ type: 'memory' });
    return (await Promise.all(threads.map((t) => t.next('memory')))).map((m) => m.numTensors);
  }

  /** Terminates the worker threads. */
  async close(): Promise<void> {
    await this.pool?.close();
  }
}

function backendName(backend: string): string {
  return backend === 'tfjs-node' || backend === 'tfjs-node-gpu' ? 'tensorflow' : backend;
}
