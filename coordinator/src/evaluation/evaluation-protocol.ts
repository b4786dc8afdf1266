import type { Dataset, RobustnessOptions, WeightArrays } from '@fedtune/shared';

/** What the evaluation worker is started with (workerData): everything it needs to rebuild the global model. */
export interface EvaluationWorkerInit {
  /** The tfjs backend of the coordinator (`tf.getBackend()`): the worker runs the same one, so numbers match. */
  backend: string;
  /** The global model's topology (`model.toJSON`), rebuilt as is. */
  topology: Record<string, unknown>;
  /** The coordinator's holdout, already fitted to the model. */
  holdout: Dataset;
  /** Named datasets whose accuracy is reported with every holdout evaluation. */
  probes: Array<{ name: string; data: Dataset }>;
}

/** A request to the worker; `id` pairs it with its reply. */
export type EvaluationRequest =
  | { id: number; kind: 'evaluate'; weights: WeightArrays }
  | { id: number; kind: 'robustness'; weights: WeightArrays; options: RobustnessOptions }
  | { id: number; kind: 'temperature'; weights: WeightArrays }
  /** Make the robustness evaluation's noisy and corrupted inputs now, in chunks (perturbed-inputs.ts); replies with how many were made. */
  | { id: number; kind: 'prepare-robustness'; options: RobustnessOptions }
  /** The worker's live tensor count (leak tests). */
  | { id: number; kind: 'tensors' };

/** The worker's messages: ready (or why not) once, then one reply per request. */
export type EvaluationReply =
  | { kind: 'ready' }
  | { kind: 'init-failed'; message: string }
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; code: string; message: string };
