import * as tf from '@tensorflow/tfjs';
import { fitLocal, TrainConfig, type Dataset, type IdlePhase } from '@fedtune/shared';

/** Steps per chunk (a turn of the event loop between chunks: the start-up retries, the connection's handshake and the abort get to run). */
const CHUNK_STEPS = 8;
const BATCH = 8;

/**
 * Trains two throwaway 4 → 16 → 2 networks (one ending in logits, one in a softmax: the Dense-stack step's path
 * and the tape's) on constant made-up numbers (nothing of the site's data) through fitLocal, in chunks of 8 steps
 * alternating between them, until `signal` aborts or `maxSteps` are done: the JavaScript of a training step
 * (tfjs's engine, tape and kernels, fitLocal's loop) is compiled while a site waits for its coordinator, not in its
 * first round. Measured on DISCO's titanic task (bench/disco.ts, 2 sites): a site's first-round training 0.40–0.56 s
 * cold, 0.26–0.31 s after 64 such steps (0.23 s after 256, which kept sites from joining as soon; later rounds 0.07–0.15 s). Every tensor is disposed;
 * resolves once it has stopped (within one chunk of the abort). `shared`: a count of steps that other calls take too
 * (a chunk is claimed on it before it runs, and the call stops once the count reaches `maxSteps`).
 */
export async function warmUpTraining(signal: AbortSignal, maxSteps = 64, shared: { steps: number } = { steps: 0 }): Promise<{ steps: number }> {
  let steps = 0;
  if (signal.aborted || shared.steps >= maxSteps) return { steps };
  // Two networks, chunks alternating: logits last, the Dense-stack step's path (dense-stack-step.ts: the built-in
  // mlp, tabular networks); a softmax last, which keeps the tape (tfjs's engine: the CNNs' path, and evaluation's).
  const models = ['linear', 'softmax'].map((activation) => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu' }));
    model.add(tf.layers.dense({ units: 2, activation: activation as 'linear' | 'softmax' }));
    return model;
  });
  try {
    const n = CHUNK_STEPS * BATCH;
    const data: Dataset = { x: new Float32Array(n * 4).map((_, i) => (i % 7) / 7), y: new Int32Array(n).map((_, i) => i % 2), featureShape: [4], numClasses: 2 };
    const config = TrainConfig.parse({ epochs: 1, batchSize: BATCH, learningRate: 0.001, seed: 1, optimizer: 'adam', trainable: 'all' });
    while (!signal.aborted && shared.steps < maxSteps) {
      shared.steps += CHUNK_STEPS;
      await fitLocal(models[(steps / CHUNK_STEPS) % 2]!, data, config);
      steps += CHUNK_STEPS;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { steps };
  } finally {
    models.forEach((m) => m.dispose());
  }
}

/**
 * Warm-up steps a node process runs in all, and at most while its coordinator is not listening yet (a coordinator
 * launched with its sites starts up on the same cores, and steps taken then delay its start).
 */
export const WARM_UP_STEPS = Object.freeze({ total: 256, connecting: 64 });

/**
 * A node site's idle work (SiteClient's `whileWaiting`): warmUpTraining, up to `budget.connecting` steps while it
 * waits for its coordinator and up to `budget.total` in all once it has joined and waits for its first
 * instruction — a site that joins a coordinator already running (the usual case) warms up then. The steps are
 * counted across the calls of the returned function, concurrent ones included (runNodeSite shares one per process:
 * what is compiled is the process's, so the sites of a simulation share it). Resolves with the steps this call took.
 */
export function trainingWarmUp(budget: { total: number; connecting: number } = WARM_UP_STEPS): (signal: AbortSignal, phase: IdlePhase) => Promise<{ steps: number }> {
  const taken = { steps: 0 };
  return (signal, phase) => warmUpTraining(signal, phase === 'connecting' ? Math.min(budget.connecting, budget.total) : budget.total, taken);
}
