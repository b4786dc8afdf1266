/**
 * A data-parallel training replica, run in a worker_thread by WorkerPool: its own tfjs engine and wasm
 * instance, a copy of the model, and the site's training split in shared memory. For each sync step it
 * trains on its shard of the batch and meets the other replicas in the main thread's reduce:
 *  - syncEvery 1: it writes the gradients of its shard, then applies the example-weighted average
 *    gradient with its own optimizer (every replica applies the same update: the same weights as one thread);
 *  - syncEvery k > 1: it takes k local steps on whole batches (epochSyncSteps), writes its weights, then loads
 *    the average (local SGD).
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { epochSyncSteps, makeOptimizer, modelFromTopology, modelInputShape, readModelWeights, setDropoutRate, setTrainableLayers, writeModelWeights, type TrainConfig } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import type { FromWorker, ToWorker } from './worker-messages.ts';

type FitMessage = Extract<ToWorker, { type: 'fit' }>;
type DataMessage = Extract<ToWorker, { type: 'data' }>;

const port = parentPort!;
const datasets = new Map<number, DataMessage>();
let model: tf.LayersModel | undefined;
let reducedWaiter: ((m: Extract<ToWorker, { type: 'reduced' }>) => void) | undefined;
let work: Promise<void> = Promise.resolve();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function nextReduced(): Promise<Extract<ToWorker, { type: 'reduced' }>> {
  return new Promise((resolve) => (reducedWaiter = resolve));
}

/** Input and one-hot label tensors of the examples order[from, to) of the shared data. */
function shardTensors(data: DataMessage, order: Int32Array, from: number, to: number, inputShape: number[]): { x: tf.Tensor; y: tf.Tensor } {
  const f = data.featureShape.reduce((a, b) => a * b, 1);
  const count = to - from;
  const xs = new Float32Array(count * f);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const i = order[from + k];
    xs.set(data.x.subarray(i * f, (i + 1) * f), k * f);
    labels[k] = data.y[i];
  }
  const x = tf.tensor(xs, [count, ...inputShape], 'float32');
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), data.numClasses).toFloat());
  return { x, y };
}

/** One forward/backward pass on a shard: gradients by variable name, the summed loss and correct count. */
function shardGradients(m: tf.LayersModel, optimizer: tf.Optimizer, vars: tf.Variable[], x: tf.Tensor, y: tf.Tensor): { grads: tf.NamedTensorMap; lossSum: number; correct: number } {
  let hits: tf.Tensor | undefined;
  const { value, grads } = optimizer.computeGradients(() => {
    const logits = m.apply(x, { training: true }) as tf.Tensor;
    hits = tf.keep(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)).sum());
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  }, vars);
  const lossSum = value.dataSync()[0] * x.shape[0];
  const correct = hits!.dataSync()[0];
  tf.dispose([value, hits!]);
  return { grads, lossSum, correct };
}

/**
 * Disposes an optimizer and its learning-rate scalar: tfjs 4.22's MomentumOptimizer.dispose forgets the
 * scalar its SGD base keeps (`c`), one leaked tensor per fit.
 */
function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const c = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

async function fit(msg: FitMessage): Promise<void> {
  const data = datasets.get(msg.dataId);
  if (!data) throw new Error(`no shared data ${msg.dataId}`);
  if (msg.topology) {
    model?.dispose();
    model = await modelFromTopology(msg.topology);
  }
  if (!model) throw new Error('no model topology');
  const m = model;
  writeModelWeights(m, msg.weights);
  setTrainableLayers(m, msg.config.trainable);
  if (msg.config.dropout !== undefined) setDropoutRate(m, msg.config.dropout);
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const sizes = vars.map((v) => v.size);
  const paramCount = sizes.reduce((a, b) => a + b, 0);
  const slot = new Float32Array(msg.slots, msg.index * paramCount * 4, paramCount);
  const average = new Float32Array(msg.average);
  const optimizer = makeOptimizer(msg.config as TrainConfig);
  const inputShape = modelInputShape(m);
  const { batchSize, epochs } = msg.config;
  const plan = epochSyncSteps(msg.n, batchSize, msg.workers, msg.syncEvery);
  const copyInto = (arrays: (v: tf.Variable) => Float32Array): void => {
    let at = 0;
    vars.forEach((v, i) => {
      slot.set(arrays(v), at);
      at += sizes[i];
    });
  };
  let step = 0;
  let stopped = false;
  try {
    for (let epoch = 0; epoch < epochs && !stopped; epoch++) {
      const order = msg.orders.subarray(epoch * msg.n, (epoch + 1) * msg.n);
      for (const syncStep of plan) {
        let count = 0;
        let lossSum = 0;
        let correct = 0;
        for (const run of syncStep.work[msg.index]) {
          const { x, y } = shardTensors(data, order, run.start, run.end, inputShape);
          try {
            const g = shardGradients(m, optimizer, vars, x, y);
            count += run.end - run.start;
            lossSum += g.lossSum;
            correct += g.correct;
            // syncEvery 1: this shard's gradients go to the reduce; else a local step on the whole batch.
            if (msg.syncEvery === 1) copyInto((v) => g.grads[v.name].dataSync() as Float32Array);
            else optimizer.applyGradients(g.grads);
            tf.dispose(Object.values(g.grads));
          } finally {
            tf.dispose([x, y]);
          }
        }
        if (msg.syncEvery > 1 && count > 0) copyInto((v) => v.dataSync() as Float32Array);
        const reduced = nextReduced();
        send({ type: 'step', fitId: msg.fitId, step, count, lossSum, correct });
        const r = await reduced;
        if (r.step !== step) throw new Error(`reduce out of order: expected step ${step}, got ${r.step}`);
        let at = 0;
        const averaged = vars.map((v, i) => {
          const t = tf.tensor(average.slice(at, at + sizes[i]), v.shape, 'float32');
          at += sizes[i];
          return t;
        });
        try {
          // The same average on every replica: the same gradient step (syncEvery 1) or the same weights.
          if (msg.syncEvery === 1) optimizer.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, averaged[i]])));
          else vars.forEach((v, i) => v.assign(averaged[i]));
        } finally {
          tf.dispose(averaged);
        }
        step++;
        stopped = r.stop;
        if (stopped) break;
      }
    }
  } finally {
    disposeOptimizer(optimizer);
  }
  const weights = msg.index === 0 ? readModelWeights(m).arrays : undefined;
  send({ type: 'done', fitId: msg.fitId, weights, numTensors: tf.memory().numTensors }, weights ? weights.map((w) => w.buffer as ArrayBuffer) : []);
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'reduced') {
    const waiter = reducedWaiter;
    reducedWaiter = undefined;
    waiter?.(msg);
    return;
  }
  // Everything else runs in arrival order, after the work before it.
  work = work
    .then(async () => {
      if (msg.type === 'setup') {
        await selectNodeBackend(msg.backend);
        send({ type: 'ready' });
      } else if (msg.type === 'data') {
        // One training split at a time: a new one (another run's data) replaces the last.
        datasets.clear();
        datasets.set(msg.dataId, msg);
      }
      else if (msg.type === 'fit') await fit(msg);
      else if (msg.type === 'memory') send({ type: 'memory', numTensors: tf.memory().numTensors });
    })
    .catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.message ?? err).slice(0, 500) }));
});
