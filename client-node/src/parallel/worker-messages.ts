import type { TrainConfig } from '@fedtune/shared';

/** The part of a training config a worker replica needs (the parallel trainer supports the plain loop only). */
export type ReplicaTrainConfig = Pick<TrainConfig, 'optimizer' | 'learningRate' | 'batchSize' | 'epochs' | 'trainable' | 'dropout'>;

/**
 * The float64 cells each worker writes per sync step in the shared `tallies` buffer (workers × these), read
 * by every replica after the step's first barrier: this step's examples (the reduce weights) and the epoch's
 * summed loss and examples so far (the divergence stop).
 */
export const TALLY_FIELDS = ['count', 'epochLoss', 'epochSeen'] as const;

/** Where a worker's time went in its last fit (milliseconds summed over its sync steps). */
export interface WorkerTiming {
  steps: number;
  /** Forward, backward (and local optimizer steps with syncEvery > 1), batches copied from the shared data. */
  trainMs: number;
  /** Blocked at the barriers: waiting for the slower replica. */
  waitMs: number;
  /** Its share of the average (reduce-scatter), then applying the whole average. */
  reduceMs: number;
}

/** Main thread → training worker. Data and the reduce buffers are SharedArrayBuffers: no copy per step. */
export type ToWorker =
  | { type: 'setup'; backend: string }
  /** The site's training split, shared once per dataset (it never leaves this process). */
  | { type: 'data'; dataId: number; x: Float32Array; y: Int32Array; featureShape: number[]; numClasses: number }
  | {
      type: 'fit';
      fitId: number;
      dataId: number;
      /** Sent when the model's architecture changed since the last fit (the worker keeps its replica). */
      topology?: Record<string, unknown>;
      weights: Float32Array[];
      config: ReplicaTrainConfig;
      /** Every epoch's shuffled order, epochs × n example indices (fitLocal's SeededRandom order). */
      orders: Int32Array;
      n: number;
      index: number;
      workers: number;
      syncEvery: number;
      /** workers × P floats: each worker's gradients (syncEvery 1) or trainable weights (syncEvery > 1). */
      slots: SharedArrayBuffer;
      /** P floats: the example-weighted average, each worker writing its share of the parameters. */
      average: SharedArrayBuffer;
      /** workers × TALLY_FIELDS float64s. */
      tallies: SharedArrayBuffer;
      /** The SharedBarrier of this fit's workers. */
      barrier: SharedArrayBuffer;
    }
  | { type: 'memory' };

/** Training worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  /** This worker finished sync step `step` (progress): `count` examples, their summed loss and correct predictions. */
  | { type: 'step'; fitId: number; step: number; count: number; lossSum: number; correct: number }
  /** The fit ended; worker 0 sends the replica's weights (every variable, modelVariables order). */
  | { type: 'done'; fitId: number; weights?: Float32Array[]; numTensors: number; timing: WorkerTiming }
  | { type: 'memory'; numTensors: number }
  /** `secondary`: this worker stopped because another one failed first (its error is the one to report). */
  | { type: 'error'; message: string; secondary?: boolean };
