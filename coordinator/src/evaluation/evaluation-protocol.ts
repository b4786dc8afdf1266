import type { Dataset, HelperAttackRows, RobustnessOptions, WeightArrays } from '@fedtune/shared';

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
  /**
   * A robustness evaluation; with `sharing`, a helper worker computes some of its PGD rows meanwhile
   * (shared-attack-rows.ts): their claims, and the id its rows come back under ('helper-rows').
   */
  | { id: number; kind: 'robustness'; weights: WeightArrays; options: RobustnessOptions; sharing?: { claims: Int32Array; helperId: number } }
  /** The helper's side of a shared robustness evaluation: the PGD rows it claims from the last one down; replies with HelperAttackRows. */
  | { id: number; kind: 'attack-rows'; weights: WeightArrays; options: RobustnessOptions; claims: Int32Array }
  | { id: number; kind: 'temperature'; weights: WeightArrays }
  /** The holdout's temperature-scaling sums at these inverse temperatures (a federated fit's trusted reference). */
  | { id: number; kind: 'calibration-stats'; weights: WeightArrays; betas: number[] }
  /** Make the robustness evaluation's noisy and corrupted inputs now, in chunks (perturbed-inputs.ts); replies with how many were made. */
  | { id: number; kind: 'prepare-robustness'; options: RobustnessOptions }
  /** The worker's live tensor count (leak tests). */
  | { id: number; kind: 'tensors' };

/** Not a request (no reply): the helper's rows for the shared evaluation `helperId`, null when the helper failed. */
export interface HelperRowsMessage {
  kind: 'helper-rows';
  helperId: number;
  rows: HelperAttackRows | null;
}

/** The worker's messages: ready (or why not) once, then one reply per request. */
export type EvaluationReply =
  | { kind: 'ready' }
  | { kind: 'init-failed'; message: string }
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; code: string; message: string };
