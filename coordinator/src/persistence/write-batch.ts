/**
 * Batches small, non-critical writes (site joins and leaves) so that a burst of events costs one database
 * transaction per event-loop tick instead of one synchronous, fsync'd transaction per event. Items are
 * written in the order they were added; `flush()` writes whatever is pending at once (before reads, a round's
 * record, a checkpoint and shutdown). A crash loses at most the items added since the last flush.
 */
export class WriteBatch<T> {
  private pending: T[] = [];
  private scheduled: ReturnType<typeof setImmediate> | undefined;

  constructor(
    private readonly write: (items: readonly T[]) => void,
    /** Flush at once when this many items are pending (a bound on what a crash can lose). */
    private readonly maxPending = 512,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.maxPending) {
      this.flushReporting();
      return;
    }
    // One write per tick: every event of a burst lands in the same transaction.
    this.scheduled ??= setImmediate(() => this.flushReporting());
  }

  /** Drops the pending items unwritten. */
  discard(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending = [];
  }

  /** Writes the pending items now (throws what the write throws; the items are dropped either way). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.write(items);
  }

  private flushReporting(): void {
    try {
      this.flush();
    } catch (err) {
      this.onError(err);
    }
  }
}
