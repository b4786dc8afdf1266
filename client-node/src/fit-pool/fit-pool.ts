import type * as tf from '@tensorflow/tfjs';
import type { Worker } from 'node:worker_threads';
import {
  FedtuneError,
  fitLocal,
  modelTopology,
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
import type { FromFitWorker, SharedDataset, ToFitWorker } from './fit-pool-messages.ts';
import { spawnFitWorker } from './spawn-fit-worker.ts';

/** The tfjs backends the fit threads can run (a native backend already uses every core itself). */
export const FIT_POOL_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu']);

/** Why a simulation on `backend` trains on the main thread even with --workers > 1, or undefined when the pool can run it. */
export function fitPoolFallbackReason(backend: string): string | undefined {
  const name = backend.replace(/^@tensorflow\/tfjs-backend-/, '');
  return FIT_POOL_BACKENDS.has(name) ? undefined : `the ${backend.slice(0, 60)} backend already uses every core`;
}

interface PendingFit {
  resolve: (m: Extract<FromFitWorker, { type: 'done' }>) => void;
  reject: (e: Error) => void;
  onProgress?: (p: FitProgress) => void;
}

/** One fit thread: what it already holds (datasets, topologies) and the fits it runs. */
class FitThread {
  readonly data = new Set<number>();
  readonly topologies = new Set<number>();
  readonly pending = new Map<number, PendingFit>();
  private readyWaiter?: { resolve: () => void; reject: (e: Error) => void };
  private memoryWaiters: Array<(n: number) => void> = [];
  failure?: Error;
  /** Fits run on this thread, and the tensors alive in it after the last. */
  fits = 0;
  lastTensors = 0;

  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromFitWorker) => {
      if (m.type === 'ready') this.readyWaiter?.resolve();
      else if (m.type === 'progress') this.pending.get(m.fitId)?.onProgress?.(m.progress);
      else if (m.type === 'done') {
        const p = this.pending.get(m.fitId);
        this.pending.delete(m.fitId);
        p?.resolve(m);
      } else if (m.type === 'memory') this.memoryWaiters.shift()?.(m.numTensors);
      else if (m.type === 'error') this.fail(new FedtuneError('internal', `a fit thread failed: ${m.message}`));
    });
    worker.on('error', (err) => this.fail(new FedtuneError('internal', `a fit thread failed: ${String(err?.message ?? err).slice(0, 500)}`)));
    worker.on('exit', (code) => this.fail(new FedtuneError('internal', `a fit thread exited (code ${code})`)));
  }

  ready(backend: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.readyWaiter = { resolve, reject };
      this.post({ type: 'setup', backend });
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.readyWaiter?.reject(this.failure);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  post(message: ToFitWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  memory(): Promise<number> {
    return new Promise((resolve) => {
      this.memoryWaiters.push(resolve);
      this.post({ type: 'memory' });
    });
  }
}

/**
 * The simulation's fit threads: `size` worker threads (each its own tfjs and wasm instance) shared by every
 * simulated site. `fit` has fitLocal's signature and results — the thread runs fitLocal itself, on a model
 * of the same architecture loaded with the site's weights and layer flags, with the same config, seed and
 * data — so a site trains the same weights whichever thread it lands on, while another site trains on the
 * next thread. Each dataset goes to a thread once (shared memory, it never leaves this process). Fits with a
 * caller's DP-SGD noise source (tests) train in this thread. Threads start at the first fit and are unref'd
 * while idle; `close` terminates them.
 */
export class FitPool {
  private threads?: Promise<FitThread[]>;
  private spawned: FitThread[] = [];
  private idle: FitThread[] = [];
  private readonly waiting: Array<{ resolve: (t: FitThread) => void; reject: (e: Error) => void }> = [];
  /** Why the pool stopped (a thread crashed): every later fit fails with it. */
  private broken?: Error;
  private readonly datasets = new WeakMap<Dataset, { id: number; shared: SharedDataset }>();
  private readonly modelTopologies = new WeakMap<tf.LayersModel, { id: number; topology: Record<string, unknown> }>();
  private readonly topologyIds = new Map<string, { id: number; topology: Record<string, unknown> }>();
  private nextId = 1;
  private closed = false;
  /** Worker threads created so far (effect tests of --workers). */
  created = 0;
  /** Fits that trained in this thread instead (a caller's noise source). */
  inProcessFits = 0;

  constructor(
    readonly size: number,
    private readonly backend: string,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new FedtuneError('config', `a fit pool needs at least one thread, got ${size}`);
  }

  /** Fits each thread has run so far, in thread order. */
  get fitsPerThread(): number[] {
    return this.spawned.map((t) => t.fits);
  }

  /** Tensors alive in each thread after its last fit, beyond its cached models' weights (leak tests). */
  get lastWorkerTensors(): number[] {
    return this.spawned.map((t) => t.lastTensors);
  }

  /** Tensors alive in each thread now, beyond its cached models' weights (leak tests). */
  async workerTensors(): Promise<number[]> {
    const threads = await this.start();
    return Promise.all(threads.map((t) => t.memory()));
  }

  private async start(): Promise<FitThread[]> {
    if (this.broken) throw this.broken;
    if (this.closed) throw new FedtuneError('internal', 'the fit pool is closed');
    this.threads ??= (async () => {
      const threads = Array.from({ length: this.size }, () => {
        this.created++;
        return new FitThread(spawnFitWorker());
      });
      this.spawned = threads;
      await Promise.all(threads.map((t) => t.ready(this.backend)));
      for (const t of threads) t.worker.unref();
      this.idle = [...threads];
      return threads;
    })();
    try {
      return await this.threads;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async acquire(): Promise<FitThread> {
    await this.start();
    const thread = this.idle.shift();
    if (thread) return thread;
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(thread: FitThread): void {
    if (thread.failure) {
      // A crashed thread stops the pool: the fits waiting for a thread, and every later one, fail with why.
      this.broken ??= thread.failure;
      for (const w of this.waiting.splice(0)) w.reject(this.broken);
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(thread);
    else this.idle.push(thread);
  }

  /** The dataset's id, copied once into shared memory. */
  private sharedData(data: Dataset): { id: number; shared: SharedDataset } {
    let entry = this.datasets.get(data);
    if (!entry) {
      const x = new Float32Array(new SharedArrayBuffer(data.x.length * 4));
      x.set(data.x);
      const y = new Int32Array(new SharedArrayBuffer(data.y.length * 4));
      y.set(data.y);
      entry = { id: this.nextId++, shared: { x, y, featureShape: [...data.featureShape], numClasses: data.numClasses } };
      this.datasets.set(data, entry);
    }
    return entry;
  }

  private topologyOf(model: tf.LayersModel): { id: number; topology: Record<string, unknown> } {
    const known = this.modelTopologies.get(model);
    if (known) return known;
    const topology = modelTopology(model);
    const key = JSON.stringify(topology);
    let entry = this.topologyIds.get(key);
    if (!entry) {
      entry = { id: this.nextId++, topology };
      this.topologyIds.set(key, entry);
    }
    this.modelTopologies.set(model, entry);
    return entry;
  }

  /** fitLocal's contract (fit-local.ts), run on one of the pool's threads. */
  fit = async (model: tf.LayersModel, train: Dataset, config: TrainConfig, onProgress?: (p: FitProgress) => void, options: FitLocalOptions = {}): Promise<FitMetrics> => {
    if (options.dpSgdNoise || options.dpSgdSampling) {
      this.inProcessFits++;
      return fitLocal(model, train, config, onProgress, options);
    }
    const trainData = this.sharedData(train);
    // Only early stopping reads the validation split (fitLocal ignores it otherwise).
    const validation = config.earlyStopping && options.validation && options.validation.y.length > 0 ? this.sharedData(options.validation) : undefined;
    const topology = this.topologyOf(model);
    const weights = readModelWeights(model).arrays;
    const trainable = model.layers.map((l) => l.trainable);
    const thread = await this.acquire();
    thread.worker.ref();
    try {
      for (const d of validation ? [trainData, validation] : [trainData]) {
        if (thread.data.has(d.id)) continue;
        thread.post({ type: 'data', dataId: d.id, data: d.shared });
        thread.data.add(d.id);
      }
      if (!thread.topologies.has(topology.id)) {
        thread.post({ type: 'topology', topologyId: topology.id, topology: topology.topology });
        thread.topologies.add(topology.id);
      }
      const fitId = this.nextId++;
      const done = new Promise<Extract<FromFitWorker, { type: 'done' }>>((resolve, reject) => {
        if (thread.failure) return reject(thread.failure);
        thread.pending.set(fitId, { resolve, reject, onProgress });
      });
      thread.post(
        {
          type: 'fit',
          fitId,
          topologyId: topology.id,
          weights,
          trainable,
          trainId: trainData.id,
          ...(validation ? { validationId: validation.id } : {}),
          config,
          keepTrainable: options.keepTrainable === true,
          progress: onProgress !== undefined,
        },
        weights.map((w) => w.buffer as ArrayBuffer),
      );
      const reply = await done;
      thread.fits++;
      thread.lastTensors = reply.numTensors;
      // The same side effects on the site's model as fitLocal in this thread: its layer flags and dropout rate.
      if (!options.keepTrainable) setTrainableLayers(model, config.trainable);
      if (config.dropout !== undefined) setDropoutRate(model, config.dropout);
      if (reply.error) throw new FedtuneError(reply.error.code, reply.error.message);
      writeModelWeights(model, reply.weights!);
      return reply.metrics!;
    } finally {
      thread.worker.unref();
      this.release(thread);
    }
  };

  /** Terminates the threads; fits waiting for one fail. */
  async close(): Promise<void> {
    this.closed = true;
    const threads = this.spawned;
    this.threads = undefined;
    this.idle = [];
    for (const w of this.waiting.splice(0)) w.reject(new FedtuneError('internal', 'the fit pool is closed'));
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}
