import type { TrainConfig } from '@fedtune/shared';

/** The part of a training config a worker replica needs (the parallel trainer supports the plain loop only). */
export type ReplicaTrainConfig = Pick<TrainConfig, 'optimizer' | 'learningRate' | 'batchSize' | 'epochs' | 'trainable' | 'dropout'>;

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
      /** P floats: the example-weighted average the main thread writes before `reduced`. */
      average: SharedArrayBuffer;
    }
  /** The average of step `step` is in the shared buffer; `stop` ends the fit after applying it (diverged). */
  | { type: 'reduced'; step: number; stop: boolean }
  | { type: 'memory' };

/** Training worker → main thread. */
export type FromWorker =
  | { type: 'ready' }
  /** This worker wrote its slot for sync step `step`: `count` examples, their summed loss and correct predictions. */
  | { type: 'step'; fitId: number; step: number; count: number; lossSum: number; correct: number }
  /** The fit ended; worker 0 sends the replica's weights (every variable, modelVariables order). */
  | { type: 'done'; fitId: number; weights?: Float32Array[]; numTensors: number }
  | { type: 'memory'; numTensors: number }
  | { type: 'error'; message: string };
