/**
 * One interval timer per period for all the sites of a process (heartbeats): a process hosting 10,000
 * virtual sites holds one timer, not 10,000. A task runs every `periodMs` from the shared timer's phase (its
 * first run comes within one period of `add`). The timer exists while some task is registered, and keeps
 * the process alive as the sites' own timers did.
 */
export class SharedTicker {
  private readonly tasks = new Set<() => void>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    readonly periodMs: number,
    private readonly onEmpty: () => void = () => {},
  ) {}

  /** Registers a task (a fresh function per registration); returns the function that removes it (idempotent). */
  add(task: () => void): () => void {
    this.tasks.add(task);
    this.timer ??= setInterval(() => this.tick(), this.periodMs);
    return () => this.remove(task);
  }

  /** Tasks registered. */
  get size(): number {
    return this.tasks.size;
  }

  private remove(task: () => void): void {
    if (!this.tasks.delete(task) || this.tasks.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.onEmpty();
  }

  /** Runs every task once; one that throws does not stop the others. */
  private tick(): void {
    for (const task of this.tasks) {
      try {
        task();
      } catch {
        // A heartbeat on a link that broke: that site's own close handling reports it.
      }
    }
  }
}

const tickers = new Map<number, SharedTicker>();

/** The process's ticker of period `periodMs` (one per distinct period; dropped when its last task goes). */
export function sharedTicker(periodMs: number): SharedTicker {
  let ticker = tickers.get(periodMs);
  if (!ticker) {
    const made: SharedTicker = new SharedTicker(periodMs, () => {
      if (tickers.get(periodMs) === made) tickers.delete(periodMs);
    });
    ticker = made;
    tickers.set(periodMs, ticker);
  }
  return ticker;
}
