/** A run of examples [start, end) of an epoch's shuffled order. */
export interface BatchShard {
  start: number;
  end: number;
}

/**
 * Splits the batch [start, end) of an epoch's order into `workers` contiguous shards whose sizes differ
 * by at most one (the first shards take the remainder). A shard may be empty when the batch has fewer
 * examples than there are workers.
 */
export function batchShards(start: number, end: number, workers: number): BatchShard[] {
  const n = Math.max(0, end - start);
  const base = Math.floor(n / workers);
  const extra = n % workers;
  const shards: BatchShard[] = [];
  let at = start;
  for (let w = 0; w < workers; w++) {
    const size = base + (w < extra ? 1 : 0);
    shards.push({ start: at, end: at + size });
    at += size;
  }
  return shards;
}

/** The work between two synchronisations of the replicas. */
export interface SyncStep {
  /** Batches of the epoch done when this step's average is applied (for progress). */
  batchesDone: number;
  /** Per worker, the runs of examples it trains on, one optimizer step per run (syncEvery > 1) or one gradient (syncEvery 1). */
  work: BatchShard[][];
}

/**
 * One epoch of data-parallel training over n examples in batches of `batchSize`, as sync steps. With
 * syncEvery 1 every batch is one step, split into shards (the workers' gradients are averaged: one
 * optimizer step on the whole batch). With syncEvery k > 1 the workers take whole batches — worker w the
 * batches w, w + workers, … of a window of workers·k batches, k local steps each — and their weights are
 * averaged at the end of the window (local SGD: a small batch costs about as much per step as a shard of
 * it, so whole batches are what makes threads pay). Pure: the main thread and every worker compute the same plan.
 */
export function epochSyncSteps(n: number, batchSize: number, workers: number, syncEvery: number): SyncStep[] {
  const batches = Math.ceil(n / batchSize);
  const batch = (b: number): BatchShard => ({ start: b * batchSize, end: Math.min(n, (b + 1) * batchSize) });
  const steps: SyncStep[] = [];
  if (syncEvery === 1) {
    for (let b = 0; b < batches; b++) {
      const { start, end } = batch(b);
      steps.push({ batchesDone: b + 1, work: batchShards(start, end, workers).map((s) => (s.end > s.start ? [s] : [])) });
    }
    return steps;
  }
  const window = workers * syncEvery;
  for (let first = 0; first < batches; first += window) {
    const last = Math.min(batches, first + window);
    const work = Array.from({ length: workers }, (_, w) => {
      const runs: BatchShard[] = [];
      for (let b = first + w; b < last; b += workers) runs.push(batch(b));
      return runs;
    });
    steps.push({ batchesDone: last, work });
  }
  return steps;
}
