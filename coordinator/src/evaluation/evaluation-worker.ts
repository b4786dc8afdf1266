/**
 * The evaluation worker thread (started by evaluation-thread.ts): its own tfjs engine on the coordinator's
 * backend (wasm with fedtune's training kernels), holding two copies of the global model — one for the holdout
 * evaluation and temperature fit (on the round's critical path), one for the robustness evaluation (which may
 * still run while the next round's holdout evaluation comes in: it yields between batches), and the holdout's
 * noisy and corrupted copies the robustness evaluations share (made ahead of the first one: prepare-robustness).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { evaluateAttackRowsFromEnd, evaluateModel, evaluateRobustness, FedtuneError, type HelperAttackRows, fitTemperature, modelLogits, PerturbedInputs, temperatureStats, writeModelWeights } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import type { EvaluationReply, EvaluationRequest, EvaluationWorkerInit, HelperRowsMessage } from './evaluation-protocol.ts';

const port = parentPort!;
const init = workerData as EvaluationWorkerInit;
const post = (reply: EvaluationReply) => port.postMessage(reply);

async function buildModel(): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: init.topology } as unknown as tf.io.ModelJSON);
}

async function main(): Promise<void> {
  let holdoutModel: tf.LayersModel;
  let robustnessModel: tf.LayersModel;
  try {
    await selectNodeBackend(init.backend);
    holdoutModel = await buildModel();
    robustnessModel = await buildModel();
  } catch (err) {
    post({ kind: 'init-failed', message: String((err as Error)?.message ?? err).slice(0, 500) });
    return;
  }
  // One robustness evaluation at a time (they share robustnessModel).
  let robustnessQueue: Promise<unknown> = Promise.resolve();
  // The holdout's noisy and corrupted copies, made once (prepare-robustness, while the sites train) for every robustness evaluation.
  const perturbed = new PerturbedInputs();
  // Shared evaluations waiting for their helper's rows (HelperRowsMessage), by helper id.
  const helperRows = new Map<number, (rows: HelperAttackRows | undefined) => void>();
  /** Runs `work` on robustnessModel set to `weights`, after the robustness work before it. */
  const onRobustnessModel = <T>(request: { weights: EvaluationRequest & { kind: 'robustness' } extends { weights: infer W } ? W : never }, work: () => Promise<T>): Promise<T> => {
    const run = robustnessQueue.then(async () => {
      writeModelWeights(robustnessModel, request.weights);
      return work();
    });
    robustnessQueue = run.catch(() => undefined);
    return run;
  };

  const handle = async (request: EvaluationRequest): Promise<unknown> => {
    switch (request.kind) {
      case 'evaluate': {
        writeModelWeights(holdoutModel, request.weights);
        const m = evaluateModel(holdoutModel, init.holdout);
        if (init.probes.length === 0) return { accuracy: m.accuracy, loss: m.loss };
        const probes = Object.fromEntries(init.probes.map((p) => [p.name, evaluateModel(holdoutModel, p.data).accuracy]));
        return { accuracy: m.accuracy, loss: m.loss, probes };
      }
      case 'temperature':
        writeModelWeights(holdoutModel, request.weights);
        return { temperature: fitTemperature(modelLogits(holdoutModel, init.holdout), init.holdout.y), fittedOn: init.holdout.y.length };
      case 'calibration-stats':
        writeModelWeights(holdoutModel, request.weights);
        return { betas: request.betas, count: init.holdout.y.length, stats: temperatureStats(modelLogits(holdoutModel, init.holdout), init.holdout.y, request.betas) };
      case 'robustness': {
        const { sharing } = request;
        const rows = sharing ? new Promise<HelperAttackRows | undefined>((resolve) => helperRows.set(sharing.helperId, resolve)) : undefined;
        return onRobustnessModel(request, () =>
          evaluateRobustness(robustnessModel, init.holdout, request.options, { inputs: perturbed, ...(sharing ? { sharing: { claims: sharing.claims, helperRows: rows! } } : {}) }),
        ).finally(() => sharing && helperRows.delete(sharing.helperId));
      }
      case 'attack-rows':
        return onRobustnessModel(request, () => evaluateAttackRowsFromEnd(robustnessModel, init.holdout, request.options, request.claims));
      case 'prepare-robustness':
        return perturbed.prepare(init.holdout, request.options);
      case 'tensors':
        return tf.memory().numTensors;
    }
  };

  port.on('message', (request: EvaluationRequest | HelperRowsMessage) => {
    if (request.kind === 'helper-rows') {
      helperRows.get(request.helperId)?.(request.rows ?? undefined);
      helperRows.delete(request.helperId);
      return;
    }
    handle(request).then(
      (value) => post({ kind: 'result', id: request.id, ok: true, value }),
      (err) => post({ kind: 'result', id: request.id, ok: false, code: err instanceof FedtuneError ? err.code : 'internal', message: String((err as Error)?.message ?? err).slice(0, 2000) }),
    );
  });
  post({ kind: 'ready' });
}

void main();
