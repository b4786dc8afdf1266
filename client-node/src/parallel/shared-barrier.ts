/**
 * A barrier for the training threads of one fit, in a SharedArrayBuffer: every thread calls `wait()` and
 * returns once all `parties` have called it (a generation count, so it can be reused step after step).
 * Threads block in `Atomics.wait` (worker threads may block; the main thread never calls it). `abort()`
 * (from any thread, including the main one) wakes every waiter with a SharedBarrierAborted error, so a
 * thread that failed never leaves the others blocked.
 */

/** Int32 cells of the control buffer. */
const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;
const CELLS = 3;
/** How long one Atomics.wait sleeps before checking the abort cell again (a missed notify costs at most this). */
const WAIT_SLICE_MS = 200;

export class SharedBarrierAborted extends Error {
  constructor() {
    super('another training thread stopped');
    this.name = 'SharedBarrierAborted';
  }
}

export class SharedBarrier {
  private readonly cells: Int32Array;

  /** A new barrier (`buffer` omitted) or a view of one another thread made (pass its `buffer`). */
  constructor(
    readonly parties: number,
    buffer: SharedArrayBuffer = new SharedArrayBuffer(CELLS * 4),
  ) {
    if (!Number.isInteger(parties) || parties < 1) throw new RangeError(`a barrier needs at least one party, got ${parties}`);
    this.cells = new Int32Array(buffer, 0, CELLS);
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  get aborted(): boolean {
    return Atomics.load(this.cells, ABORTED) !== 0;
  }

  /** Blocks until every party has arrived; throws SharedBarrierAborted if the barrier is (or gets) aborted. */
  wait(): void {
    const c = this.cells;
    if (this.aborted) throw new SharedBarrierAborted();
    const generation = Atomics.load(c, GENERATION);
    if (Atomics.add(c, ARRIVED, 1) === this.parties - 1) {
      // The last to arrive opens the barrier: reset the count before the others can arrive at the next one.
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    while (Atomics.load(c, GENERATION) === generation) {
      if (this.aborted) throw new SharedBarrierAborted();
      Atomics.wait(c, GENERATION, generation, WAIT_SLICE_MS);
    }
    // abort() also moves the generation on: a waiter it woke must not take that for an opened barrier.
    if (this.aborted) throw new SharedBarrierAborted();
  }

  /** Wakes every waiter with an error, now and at every later `wait`. */
  abort(): void {
    Atomics.store(this.cells, ABORTED, 1);
    Atomics.add(this.cells, GENERATION, 1);
    Atomics.notify(this.cells, GENERATION);
  }
}
