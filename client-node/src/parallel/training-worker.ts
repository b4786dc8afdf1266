/**
 * A data-parallel training replica, run in a worker_thread by WorkerPool: its own tfjs engine and wasm
 * instance, a copy of the model, the site's training split in shared memory, and fitLocal's training step
 * (`createTrainStep`: the fused optimizer update on the wasm heap). The replicas synchronize among
 * themselves through shared memory (SharedBarrier, no message round trip through the main thread), each
 * sync step in three phases:
 *  1. train: syncEvery 1: the gradients of its shard of the batch (`computeGradients`) into its slot;
 *     syncEvery k > 1: k local steps on whole batches (`step`, epochSyncSteps), then its weights into its slot;
 *  2. reduce-scatter: after a barrier, each replica writes the example-weighted average of every slot over its
 *     own 1/N of the parameters into the shared average (the same sums in the same order, whoever computes them);
 *  3. after a second barrier, every replica applies the whole average: the same gradient step with its own
 *     optimizer (syncEvery 1: the same weights as one thread) or the same weights (syncEvery k).
 * Progress goes to the main thread as fire-and-forget `step` messages; the main thread takes no part in a step.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { createTrainStep, epochSyncSteps, modelFromTopology, readModelWeights, setDropoutRate, setTrainableLayers, weightedAverageInto, writeModelWeights, type TrainStep } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { SharedBarrier, SharedBarrierAborted } from './shared-barrier.ts';
import { TALLY_FIELDS, type FromWorker, type ToWorker } from './worker-messages.ts';

type FitMessage = Extract<ToWorker, { type: 'fit' }>;
type DataMessage = Extract<ToWorker, { type: 'data' }>;

const port = parentPort!;
const datasets = new Map<number, DataMessage>();
let model: tf.LayersModel | undefined;
let work: Promise<void> = Promise.resolve();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The parameter range [from, to) whose average replica `index` of `workers` computes (reduce-scatter). */
function ownRange(paramCount: number, index: number, workers: number): [number, number] {
  const per = Math.ceil(paramCount / workers / 4) * 4;
  return [Math.min(paramCount, index * per), Math.min(paramCount, (index + 1) * per)];
}

async function fit(msg: FitMessage): Promise<void> {
  const barrier = new SharedBarrier(msg.workers, msg.barrier);
  let trainer: TrainStep | undefined;
  try {
    const data = datasets.get(msg.dataId);
    if (!data) throw new Error(`no shared data ${msg.dataId}`);
    if (msg.topology) {
      model?.dispose();
      model = undefined;
      model = await modelFromTopology(msg.topology);
    }
    if (!model) throw new Error('no model topology');
    const m = model;
    writeModelWeights(m, msg.weights);
    setTrainableLayers(m, msg.config.trainable);
    if (msg.config.dropout !== undefined) setDropoutRate(m, msg.config.dropout);
    trainer = createTrainStep(m, msg.config);
    const vars = trainer.variables;
    const f = trainer.inputSize;
    if (data.featureShape.reduce((a, b) => a * b, 1) !== f) throw new Error(`the data has ${data.featureShape.join('×')} features per example, the model takes ${f}`);
    const sizes = vars.map((v) => v.size);
    const paramCount = sizes.reduce((a, b) => a + b, 0);
    const slots = Array.from({ length: msg.workers }, (_, w) => new Float32Array(msg.slots, w * paramCount * 4, paramCount));
    const slot = slots[msg.index]!;
    const average = new Float32Array(msg.average);
    const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const averaged = vars.map((_, i) => average.subarray(offsets[i], offsets[i]! + sizes[i]!));
    const tallies = new Float64Array(msg.tallies);
    const tally = (w: number, field: number): number => tallies[w * TALLY_FIELDS.length + field]!;
    const [from, to] = ownRange(paramCount, msg.index, msg.workers);
    const { batchSize, epochs } = msg.config;
    const plan = epochSyncSteps(msg.n, batchSize, msg.workers, msg.syncEvery);
    const xs = new Float32Array(batchSize * f);
    const ys = new Int32Array(batchSize);
    const timing = { steps: 0, trainMs: 0, waitMs: 0, reduceMs: 0 };
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = msg.orders.subarray(epoch * msg.n, (epoch + 1) * msg.n);
      let epochLoss = 0;
      let epochSeen = 0;
      let stop = false;
      for (const [s, syncStep] of plan.entries()) {
        const t0 = performance.now();
        let count = 0;
        let lossSum = 0;
        let correct = 0;
        for (const run of syncStep.work[msg.index]!) {
          const size = run.end - run.start;
          for (let k = 0; k < size; k++) {
            const i = order[run.start + k]!;
            xs.set(data.x.subarray(i * f, (i + 1) * f), k * f);
            ys[k] = data.y[i]!;
          }
          if (msg.syncEvery === 1) {
            const g = trainer.computeGradients(xs, ys, size);
            g.gradients.forEach((arr, i) => slot.set(arr, offsets[i]));
            lossSum += g.loss * size;
            correct += g.correct;
          } else {
            const r = trainer.step(xs, ys, size);
            lossSum += r.loss * size;
            correct += r.correct;
          }
          count += size;
        }
        if (msg.syncEvery > 1 && count > 0) vars.forEach((v, i) => slot.set(v.dataSync() as Float32Array, offsets[i]));
        epochLoss += lossSum;
        epochSeen += count;
        const base = msg.index * TALLY_FIELDS.length;
        tallies[base + TALLY_FIELDS.indexOf('count')] = count;
        tallies[base + TALLY_FIELDS.indexOf('epochLoss')] = epochLoss;
        tallies[base + TALLY_FIELDS.indexOf('epochSeen')] = epochSeen;
        const t1 = performance.now();
        barrier.wait();
        const t2 = performance.now();
        // Every slot is written: this replica averages its share of the parameters (read phase of the tallies too).
        const counts = slots.map((_, w) => tally(w, TALLY_FIELDS.indexOf('count')));
        if (from < to) weightedAverageInto(average, slots, counts, from, to);
        if (s === plan.length - 1 && epoch < epochs - 1) {
          // Like fitLocal, a non-finite epoch loss ends the fit: every replica decides from the same tallies.
          let loss = 0;
          let seen = 0;
          for (let w = 0; w < msg.workers; w++) {
            loss += tally(w, TALLY_FIELDS.indexOf('epochLoss'));
            seen += tally(w, TALLY_FIELDS.indexOf('epochSeen'));
          }
          stop = !Number.isFinite(loss / seen);
        }
        const t3 = performance.now();
        barrier.wait();
        const t4 = performance.now();
        // The same average on every replica: the same gradient step (syncEvery 1) or the same weights.
        if (msg.syncEvery === 1) trainer.applyGradients(averaged);
        else {
          vars.forEach((v, i) => {
            const t = tf.tensor(averaged[i]!, v.shape, 'float32');
            v.assign(t);
            t.dispose();
          });
        }
        const t5 = performance.now();
        timing.steps++;
        timing.trainMs += t1 - t0;
        timing.waitMs += t2 - t1 + (t4 - t3);
        timing.reduceMs += t3 - t2 + (t5 - t4);
        send({ type: 'step', fitId: msg.fitId, step, count, lossSum, correct });
        step++;
        if (stop) break;
      }
      if (stop) break;
    }
    const weights = msg.index === 0 ? readModelWeights(m).arrays : undefined;
    trainer.dispose();
    trainer = undefined;
    send({ type: 'done', fitId: msg.fitId, weights, numTensors: tf.memory().numTensors, timing }, weights ? weights.map((w) => w.buffer as ArrayBuffer) : []);
  } catch (err) {
    // Never leave the other replicas blocked at the next barrier.
    barrier.abort();
    throw err;
  } finally {
    trainer?.dispose();
  }
}

port.on('message', (msg: ToWorker) => {
  // Everything runs in arrival order, after the work before it.
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
    .catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.message ?? err).slice(0, 500), ...(err instanceof SharedBarrierAborted ? { secondary: true } : {}) }));
});
