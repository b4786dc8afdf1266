import type { Worker } from 'node:worker_threads';
import { FedtuneError } from '@fedtune/shared';
import { spawnModuleWorker } from '@fedtune/shared/node';
import type { FromWorker, ToWorker } from './worker-messages.ts';

/** The worker entry next to this file: compiled JavaScript when this file is, else TypeScript through tsx. */
function spawnTrainingWorker(): Worker {
  return spawnModuleWorker(import.meta.url, 'training-worker');
}

/** One training thread: posts messages and awaits the next reply of a type (errors and exits reject). */
class TrainingThread {
  private readonly waiters: Array<{ type: FromWorker['type']; resolve: (m: FromWorker) => void; reject: (e: Error) => void }> = [];
  private readonly early: FromWorker[] = [];
  private failure?: Error;
  /** True when this thread stopped only because another one failed (report the other's error). */
  secondary = false;

  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') return this.fail(new FedtuneError('internal', `a training worker failed: ${m.message}`), m.secondary === true);
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i < 0) this.early.push(m);
      else this.waiters.splice(i, 1)[0].resolve(m);
    });
    worker.on('error', (err) => this.fail(new FedtuneError('internal', `a training worker failed: ${String(err?.message ?? err).slice(0, 500)}`)));
    worker.on('exit', (code) => this.fail(new FedtuneError('internal', `a training worker exited (code ${code})`)));
  }

  private failed$?: () => void;
  /** Resolves when this thread fails (an error, a crash or an exit). */
  readonly whenFailed = new Promise<void>((resolve) => (this.failed$ = resolve));

  private fail(err: Error, secondary = false): void {
    if (!this.failure) this.secondary = secondary;
    this.failure ??= err;
    this.failed$?.();
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }

  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    const i = this.early.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.early.splice(i, 1)[0] as Extract<FromWorker, { type: T }>);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve: resolve as (m: FromWorker) => void, reject }));
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }
}

/**
 * The site's training threads: started once (the first fit), reused across rounds, terminated by `close`.
 * Between fits the threads are unref'd, so an idle pool never keeps the process alive.
 */
export class WorkerPool {
  private threads?: Promise<TrainingThread[]>;
  private spawned: TrainingThread[] = [];
  /** How many worker threads this pool has created (for the effect tests of --workers). */
  created = 0;

  constructor(
    readonly size: number,
    private readonly backend: string,
  ) {}

  /** The pool's threads, started and with their tfjs backend ready. */
  async start(): Promise<TrainingThread[]> {
    this.threads ??= (async () => {
      const threads = Array.from({ length: this.size }, () => {
        this.created++;
        return new TrainingThread(spawnTrainingWorker());
      });
      this.spawned = threads;
      for (const t of threads) t.post({ type: 'setup', backend: this.backend });
      await Promise.all(threads.map((t) => t.next('ready')));
      return threads;
    })();
    try {
      const threads = await this.threads;
      if (threads.some((t) => t.failed)) throw new FedtuneError('internal', 'a training worker stopped');
      return threads;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Keeps the process alive while a fit waits on the threads (`true`), or lets it exit (`false`). */
  hold(active: boolean, threads: TrainingThread[]): void {
    for (const t of threads) (active ? t.worker.ref() : t.worker.unref());
  }

  /** Terminates the threads (a later `start` creates new ones). */
  async close(): Promise<void> {
    const threads = this.spawned;
    this.threads = undefined;
    this.spawned = [];
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}

export type { TrainingThread };
