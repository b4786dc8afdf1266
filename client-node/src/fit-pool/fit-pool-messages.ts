import type { FedtuneErrorCode, FitMetrics, FitProgress, TrainConfig } from '@fedtune/shared';

/** A dataset as a fit thread holds it: features and labels in shared memory (copied once, read in place). */
export interface SharedDataset {
  x: Float32Array;
  y: Int32Array;
  featureShape: number[];
  numClasses: number;
}

/** Main thread → fit thread. */
export type ToFitWorker =
  | { type: 'setup'; backend: string }
  /** A dataset (a site's train or validation split), sent once per thread. */
  | { type: 'data'; dataId: number; data: SharedDataset }
  /** A model architecture, sent once per thread; the thread builds one model per topology and reuses it. */
  | { type: 'topology'; topologyId: number; topology: Record<string, unknown> }
  | {
      type: 'fit';
      fitId: number;
      topologyId: number;
      /** The site model's weights at the call (every variable, modelVariables order). */
      weights: Float32Array[];
      /** Each layer's `trainable` flag at the call (what keepTrainable keeps). */
      trainable: boolean[];
      trainId: number;
      validationId?: number;
      config: TrainConfig;
      keepTrainable: boolean;
      /** Relay per-batch progress (only when the caller listens). */
      progress: boolean;
    }
  | { type: 'memory' };

/** Fit thread → main thread. */
export type FromFitWorker =
  | { type: 'ready' }
  | { type: 'progress'; fitId: number; progress: FitProgress }
  /** The fit ended: fitLocal's metrics and the trained weights, or its error; tensors alive in the thread after it beyond its cached models' weights. */
  | { type: 'done'; fitId: number; metrics?: FitMetrics; weights?: Float32Array[]; error?: { code: FedtuneErrorCode; message: string }; numTensors: number }
  /** Tensors alive in the thread beyond its cached models' weights. */
  | { type: 'memory'; numTensors: number }
  | { type: 'error'; message: string };
