import type { Database } from 'better-sqlite3';

/** One write made of statements run in order: each step runs one statement (or a few). */
export type WriteSteps = ReadonlyArray<() => void>;

/**
 * Large writes spread over turns of the event loop, each still one transaction. A 500-site round record is
 * ~2,000 rows (its updates and per-site metrics): written at once it held the event loop for 17–115 ms at every
 * round's end (measured under load), delaying every health check and site message. A write with more steps than
 * `stepsPerTurn` instead opens a transaction (`BEGIN IMMEDIATE`), runs `stepsPerTurn` steps per turn and commits
 * after its last one; smaller writes run at once in one transaction, as before.
 *
 * While a write is open, the connection's other statements run inside its transaction (better-sqlite3 nests a
 * transaction function as a savepoint) and commit with it; reads on the connection see its rows as they are
 * written, another connection once it commits. Writes run one after another, in the order given. A step that
 * throws rolls its whole write back (and what ran beside it since it began) and is reported to `onError`; the
 * writes queued behind it go on. `finish()` runs everything pending now (before the database closes).
 */
export class TurnSpreadWrites {
  private readonly queue: WriteSteps[] = [];
  /** The write in progress (its transaction open) and its next step. */
  private current: WriteSteps | undefined;
  private next = 0;
  private scheduled: ReturnType<typeof setImmediate> | undefined;
  /** The most steps run in one turn (effect tests). */
  mostStepsInATurn = 0;
  /** Writes spread over more than one turn so far (effect tests). */
  spreadWrites = 0;

  constructor(
    private readonly db: Database,
    private readonly stepsPerTurn: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Steps not yet run, of the write in progress and those queued. */
  get pending(): number {
    return (this.current ? this.current.length - this.next : 0) + this.queue.reduce((n, w) => n + w.length, 0);
  }

  /** Runs `steps` as one transaction: now if small and nothing is pending, else spread over the next turns. */
  write(steps: WriteSteps): void {
    if (steps.length === 0) return;
    if (!this.current && this.queue.length === 0 && (steps.length <= this.stepsPerTurn || this.db.inTransaction)) {
      // Throws what a step throws, the transaction rolled back: as a plain transaction does.
      this.db.transaction(() => steps.forEach((step) => step()))();
      return;
    }
    this.queue.push(steps);
    this.schedule();
  }

  /** Runs every pending step now, committing each write (the database is about to close or be read elsewhere). */
  finish(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.current || this.queue.length > 0) {
      if (!this.current && this.db.inTransaction) {
        // Called from inside a transaction of the connection's own: the write joins it (as a savepoint).
        const write = this.queue.shift()!;
        try {
          this.db.transaction(() => write.forEach((step) => step()))();
        } catch (err) {
          this.onError(err);
        }
        continue;
      }
      this.run(Infinity);
    }
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.run(this.stepsPerTurn);
      if (this.current || this.queue.length > 0) this.schedule();
    });
  }

  /** Runs up to `budget` steps, opening and committing writes as they start and end. */
  private run(budget: number): void {
    let ran = 0;
    while (ran < budget) {
      if (!this.current) {
        const write = this.queue.shift();
        if (!write) break;
        if (this.db.inTransaction) {
          // Someone else's transaction is open (not ours: we never leave one open between writes): wait a turn.
          this.queue.unshift(write);
          break;
        }
        this.db.exec('BEGIN IMMEDIATE');
        this.current = write;
        this.next = 0;
        if (write.length > this.stepsPerTurn) this.spreadWrites++;
      }
      try {
        this.current[this.next++]();
        ran++;
        if (this.next === this.current.length) {
          this.current = undefined;
          this.db.exec('COMMIT');
        }
      } catch (err) {
        this.current = undefined;
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.onError(err);
      }
    }
    this.mostStepsInATurn = Math.max(this.mostStepsInATurn, ran);
  }
}
