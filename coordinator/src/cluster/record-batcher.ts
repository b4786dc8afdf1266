import { MAX_RECORDS_PER_BATCH } from './record-batch-messages.ts';

export interface RecordBatcherOptions<R> {
  /** Sends one batch (a follower: one server-side emit to the leader). */
  send(records: R[]): void;
  /** Longest a record waits for others before its batch goes (ms). Default 5. */
  delayMs?: number;
  /** A batch goes as soon as this many records are pending (1..MAX_RECORDS_PER_BATCH). Default MAX_RECORDS_PER_BATCH. */
  maxPerBatch?: number;
}

/**
 * Collects a follower's acceptance records and sends them in batches (docs/cluster.md, "Aggregation and
 * privacy"): a batch goes when `maxPerBatch` records are pending, `delayMs` after its first record, or on
 * `flush()` (the follower flushes before it sends its partial, so the leader always has a node's records
 * before its partial: Redis keeps one publisher's messages in order).
 */
export class RecordBatcher<R> {
  private pending: R[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  /** Batches sent and records in them, since this batcher was made. */
  batchesSent = 0;
  recordsSent = 0;
  private readonly delayMs: number;
  private readonly maxPerBatch: number;

  constructor(private readonly options: RecordBatcherOptions<R>) {
    this.delayMs = options.delayMs ?? 5;
    this.maxPerBatch = Math.max(1, Math.min(MAX_RECORDS_PER_BATCH, Math.floor(options.maxPerBatch ?? MAX_RECORDS_PER_BATCH)));
  }

  /** Records waiting for their batch. */
  get size(): number {
    return this.pending.length;
  }

  add(record: R): void {
    this.pending.push(record);
    if (this.pending.length >= this.maxPerBatch) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.delayMs);
      this.timer.unref?.();
    }
  }

  /** Sends whatever is pending now (nothing when none is). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxPerBatch);
      this.batchesSent++;
      this.recordsSent += batch.length;
      this.options.send(batch);
    }
  }
}
